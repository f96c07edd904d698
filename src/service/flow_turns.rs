//! One turn of a call's flow, run inside the webhook's transaction: a declarative flow (its
//! position and answers from the request) or an AVF survey (its state on the contact). Answers
//! are written to metadata; the result is the TwiML the caller hears next.

use super::{Error, Result, Service, ServiceEvent, as_map, json_text};
use crate::call_flow::{self, avf, twiml};
use crate::domain::PhoneCall;
use crate::domain::metadata::{self, MergeMode};
use crate::store;
use crate::store::locks::{Table, lock_row};
use serde_json::{Map, Value};

/// The webhook URL without the flow's own position parameters (actions add fresh ones).
fn strip_flow_params(url: &str) -> String {
    use call_flow::engine::{STEP_PARAM, TRY_PARAM};
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            name != STEP_PARAM && name != TRY_PARAM
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

impl Service {
    /// One turn of a declarative flow: position from the request's `flow_step`/`flow_try`,
    /// answers from `Digits`/`RecordingUrl`; answers are written to metadata (once: not again for
    /// a duplicated delivery) and recorded on the event.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_flow(
        &self,
        tx: &mut impl store::Handle,
        call: &PhoneCall,
        flow: &call_flow::flow::Flow,
        details: &Map<String, Value>,
        apply: bool,
        url: &str,
        changed: &mut Vec<ServiceEvent>,
    ) -> Result<String> {
        use call_flow::engine::{self, Context, Input};
        let get = |k: &str| details.get(k).and_then(Value::as_str);
        let contact = store::contacts::get(tx, call.contact_id)
            .await?
            .ok_or(Error::NotFound)?;
        // The contact and the call are locked by the webhook already; the participation comes
        // after them (`store::locks`), before it is read and its answers merged.
        let participation = match call.callout_participation_id {
            Some(id) if lock_row(tx, Table::Participations, id).await? => {
                store::participations::get(tx, id).await?
            }
            _ => None,
        };
        let callout = match &participation {
            Some(p) => store::callouts::get(tx, p.callout_id).await?,
            None => None,
        };
        let ctx = Context {
            contact: as_map(&contact.metadata),
            participation: participation
                .as_ref()
                .map(|p| as_map(&p.metadata))
                .unwrap_or_default(),
            callout: callout
                .as_ref()
                .map(|c| as_map(&c.metadata))
                .unwrap_or_default(),
            base_url: strip_flow_params(url),
        };
        let input = Input {
            step: get(engine::STEP_PARAM),
            attempt: get(engine::TRY_PARAM)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            digits: get("Digits"),
            recording_url: get("RecordingUrl"),
        };
        let turn = engine::run(flow, &ctx, &input);
        if apply && !turn.stores.is_empty() {
            let now = self.now();
            let mut contact_patch = Map::new();
            let mut participation_patch = Map::new();
            for op in &turn.stores {
                let target = match (op.target, &participation) {
                    (call_flow::flow::Target::Participation, Some(_)) => &mut participation_patch,
                    _ => &mut contact_patch,
                };
                target.insert(op.key.clone(), Value::String(op.value.clone()));
            }
            if !contact_patch.is_empty() {
                let merged = metadata::apply(&ctx.contact, contact_patch, MergeMode::Merge);
                store::contacts::update(tx, contact.id, &contact.msisdn, &json_text(&merged), &now)
                    .await?;
                changed.push(ServiceEvent::ContactsChanged);
            }
            if let (Some(p), false) = (&participation, participation_patch.is_empty()) {
                let merged =
                    metadata::apply(&ctx.participation, participation_patch, MergeMode::Merge);
                store::participations::update(
                    tx,
                    p.id,
                    &p.msisdn,
                    p.own_call_flow_logic.as_deref(),
                    &json_text(&merged),
                    &now,
                )
                .await?;
                changed.push(ServiceEvent::ParticipationsChanged {
                    callout_id: p.callout_id,
                });
            }
        }
        if apply {
            if let (Some(answer), Some(step)) = (&turn.answer, input.step) {
                let mut meta = Map::new();
                meta.insert("flow_step".into(), Value::String(step.to_string()));
                meta.insert("answer".into(), Value::String(answer.clone()));
                store::events::set_latest_metadata(tx, call.id, &json_text(&meta), &self.now())
                    .await?;
            }
        }
        Ok(twiml::render(&turn.verbs))
    }

    /// One step of an AVF survey; state lives on the contact (`call_flow_data.<logic>`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn step_survey(
        &self,
        tx: &mut impl store::Handle,
        call: &PhoneCall,
        logic: &str,
        survey: avf::Survey,
        digits: Option<&str>,
        advance: bool,
        url: &str,
    ) -> Result<String> {
        let contact = store::contacts::get(tx, call.contact_id)
            .await?
            .ok_or(Error::NotFound)?;
        let meta = as_map(&contact.metadata);
        let flow_data = meta
            .get("call_flow_data")
            .and_then(|v| v.get(logic))
            .cloned();
        let state = flow_data
            .as_ref()
            .and_then(|v| v.get("status"))
            .and_then(Value::as_str)
            .unwrap_or("initialized")
            .to_string();
        let next = if advance {
            survey.step(&state, digits)
        } else {
            state.clone()
        };
        let changed = next != state;
        if changed {
            let mut data = flow_data
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            data.insert("status".into(), Value::String(next.clone()));
            data.insert(format!("transitioned_to_{next}_by"), Value::from(call.id));
            let mut logic_map = Map::new();
            logic_map.insert(logic.to_string(), Value::Object(data));
            let mut patch = Map::new();
            patch.insert("call_flow_data".into(), Value::Object(logic_map));
            let merged = metadata::apply(&meta, patch, MergeMode::DeepMerge);
            store::contacts::update(
                tx,
                contact.id,
                &contact.msisdn,
                &json_text(&merged),
                &self.now(),
            )
            .await?;
        }
        Ok(twiml::render(&survey.twiml(&next, changed, url)))
    }
}
