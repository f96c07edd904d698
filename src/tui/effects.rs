//! Runs effects against the Service. Each effect becomes one task whose result comes back to
//! the event loop as an `Action` (`...Loaded`, `...Done` or `Failed` with the service's reason).
//! The UI task never waits for the database.

use super::action::{Action, CalloutVerb, Effect};
use crate::domain::filter::{Family, Filter};
use crate::service::{CalloutInput, ContactInput, Service};
use serde_json::{Map, Value};
use tokio::sync::mpsc::UnboundedSender;

/// Rows of a population preview's first page.
pub const PREVIEW_PAGE: i64 = 50;

/// Spawns `effect`; its progress and resulting action are sent on `tx`.
pub fn spawn(service: &Service, effect: Effect, tx: &UnboundedSender<Action>) {
    let service = service.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        let action = run_reporting(&service, effect, Some(&tx)).await;
        let _ = tx.send(action);
    });
}

fn failed(what: &'static str) -> impl FnOnce(crate::service::Error) -> Action {
    move |e| {
        tracing::warn!(what, error = %e, "TUI effect failed");
        Action::Failed {
            what,
            reason: e.to_string(),
        }
    }
}

fn contact_filter(map: Map<String, Value>) -> Filter {
    Filter::parse(Family::Contact, Some(&Value::Object(map)))
}

/// Runs one effect to completion and says what came of it (progress is dropped).
pub async fn run(service: &Service, effect: Effect) -> Action {
    run_reporting(service, effect, None).await
}

/// Runs one effect to completion; a long one (an import) sends its progress on `progress`
/// before returning what came of it.
pub async fn run_reporting(
    service: &Service,
    effect: Effect,
    progress: Option<&UnboundedSender<Action>>,
) -> Action {
    let result = match effect {
        Effect::LoadContacts {
            seq,
            filter,
            anchor,
            limit,
        } => {
            let f = contact_filter(filter);
            let (after, backwards) = match anchor {
                super::action::Anchor::After(id) => (id, false),
                super::action::Anchor::Before(id) => (id, true),
            };
            service
                .contacts_page(&f, after, backwards, limit)
                .await
                .map(|rows| Action::ContactsLoaded { seq, anchor, rows })
                .map_err(failed("loading contacts"))
        }
        Effect::CountContacts { seq, filter } => service
            .count_contacts(&contact_filter(filter))
            .await
            .map(|total| Action::ContactsCounted { seq, total })
            .map_err(failed("counting contacts")),
        Effect::LoadContactDetail(id) => service
            .contact_detail(id)
            .await
            .map(|d| Action::ContactDetailLoaded(Box::new(d)))
            .map_err(failed("loading the contact")),
        Effect::SaveContact {
            id,
            msisdn,
            metadata,
        } => {
            let input = ContactInput {
                msisdn: Some(msisdn),
                metadata: Some(metadata),
                merge_mode: crate::domain::metadata::MergeMode::Replace,
            };
            match id {
                None => service.create_contact(input).await,
                Some(id) => match service.update_contact(id, input).await {
                    Ok(()) => service.contact(id).await,
                    Err(e) => Err(e),
                },
            }
            .map(|c| Action::ContactSaved(Box::new(c)))
            .map_err(failed("saving the contact"))
        }
        Effect::DeleteContact(id) => service
            .delete_contact(id)
            .await
            .map(|()| Action::ContactDeleted(id))
            .map_err(failed("deleting the contact")),
        Effect::LoadCallouts => service
            .callout_summaries(500)
            .await
            .map(Action::CalloutsLoaded)
            .map_err(failed("loading callouts")),
        Effect::LoadCalloutDetail(id) => service
            .callout_detail(id)
            .await
            .map(|d| Action::CalloutDetailLoaded(Box::new(d)))
            .map_err(failed("loading the callout")),
        Effect::SaveCallout {
            id,
            call_flow_logic,
            metadata,
            dialing,
        } => {
            let input = CalloutInput {
                call_flow_logic: Some(call_flow_logic),
                metadata: Some(metadata),
                merge_mode: crate::domain::metadata::MergeMode::Merge,
                dialing,
                requires_approval: None,
            };
            match id {
                None => service.create_callout(input).await,
                Some(id) => match service.update_callout(id, input).await {
                    Ok(()) => service.callout(id).await,
                    Err(e) => Err(e),
                },
            }
            .map(|c| Action::CalloutSaved(Box::new(c)))
            .map_err(failed("saving the callout"))
        }
        Effect::CountCalloutPeople { id, verb } => service
            .callout_people(id)
            .await
            .map(|people| Action::CalloutEventCounted { id, verb, people })
            .map_err(failed("counting the callout's people")),
        Effect::FireCalloutEvent { id, verb } => {
            let r = match verb {
                CalloutVerb::Start => service.start_callout_dialing(id).await,
                other => service.fire_callout_event(id, Some(other.event())).await,
            };
            r.map(|c| Action::CalloutEventDone {
                id,
                verb,
                status: c.status,
            })
            .map_err(failed("changing the callout"))
        }
        Effect::LoadBatches => service
            .batch_summaries(50)
            .await
            .map(Action::BatchesLoaded)
            .map_err(failed("loading batch operations")),
        Effect::BuildPreview { callout_id, filter } => service
            .build_population_preview(callout_id, filter, PREVIEW_PAGE)
            .await
            .map(|p| Action::PreviewLoaded(Box::new(p)))
            .map_err(failed("building the preview")),
        Effect::LoadPreview(id) => service
            .population_preview(id, PREVIEW_PAGE)
            .await
            .map(|p| Action::PreviewLoaded(Box::new(p)))
            .map_err(failed("loading the preview")),
        Effect::FireBatchEvent { id, event } => service
            .fire_batch_operation_event(id, Some(event))
            .await
            .map(|op| Action::BatchEventDone(Box::new(op)))
            .map_err(failed("queueing the batch operation")),
        Effect::LoadLive {
            callout_id,
            statuses,
        } => service
            .live_calls(callout_id, &statuses, 100)
            .await
            .map(|l| Action::LiveLoaded(Box::new(l)))
            .map_err(failed("loading calls")),
        Effect::CountInFlight => service
            .calls_in_flight()
            .await
            .map(Action::InFlightCounted)
            .map_err(failed("counting calls in flight")),
        Effect::ImportContacts {
            path,
            msisdn_column,
        } => Ok(super::effects_csv::import(service, path, msisdn_column, progress).await),
        Effect::Export {
            target,
            path,
            area_map,
        } => Ok(super::effects_csv::export(service, target, path, area_map).await),
        Effect::LoadSitrep {
            callout_id,
            area_map,
        } => Ok(super::effects_sitrep::load(service, callout_id, area_map).await),
        Effect::ImportCap { path, area_map } => {
            Ok(super::effects_cap::import(service, path, area_map).await)
        }
        Effect::LoadApprovals => Ok(super::effects_cap::load_approvals(service).await),
        Effect::ApproveCallout(id) => Ok(super::effects_cap::approve(service, id).await),
    };
    result.unwrap_or_else(|a| a)
}
