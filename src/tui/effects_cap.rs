//! The effects of issue 14's TUI parts: `:cap` (read the area map and the alert, ask the
//! service for the draft, add the pace for the ETA), the approvals list, and an approval. The
//! service parses, decides and refuses; these read the files and turn its answers into actions.

use super::action::{Action, CapReport};
use super::effects_csv::expand;
use crate::service::{Error, Service, read_alert, read_area_map};

/// The service's reason, without Rails' attribute prefix (`Cap …`, `Event …`).
fn reason(e: Error) -> String {
    match e {
        Error::Invalid(v) => v
            .iter()
            .flat_map(|(_, m)| m.iter().cloned())
            .collect::<Vec<_>>()
            .join("; "),
        Error::BadRequest(m) => m,
        Error::NotFound => "not found".into(),
        other => other.to_string(),
    }
}

/// `:cap`: nothing is written unless the map and the alert were read and the service drafted.
pub async fn import(service: &Service, path: String, area_map: String) -> Action {
    let result = async {
        let map = read_area_map(&expand(&area_map)).await?;
        let source = if path.contains("://") {
            path.clone()
        } else {
            expand(&path).display().to_string()
        };
        let xml = read_alert(&source).await?;
        let outcome = service.import_cap(&xml, &map).await.map_err(reason)?;
        // The pace new attempts go out at now (slowed or held), else the configured cap.
        let calls_per_second = match service.dialing_health().await {
            Ok(h) if h.current.current_calls_per_second > 0.0 => h.current.current_calls_per_second,
            _ => service.dialing().calls_per_second,
        };
        Ok(Box::new(CapReport {
            outcome,
            calls_per_second,
        }))
    }
    .await;
    if let Err(e) = &result {
        tracing::warn!(error = %e, path, "TUI CAP import refused");
    }
    Action::CapImported { path, result }
}

pub async fn load_approvals(service: &Service) -> Action {
    match service.approval_requests(100).await {
        Ok(items) => Action::ApprovalsLoaded(items),
        Err(e) => Action::Failed {
            what: "loading approvals",
            reason: reason(e),
        },
    }
}

/// Approves as the TUI's operator; a refusal comes back with the rule's reason.
pub async fn approve(service: &Service, id: i64) -> Action {
    let result = service
        .fire_callout_event(id, Some("approve"))
        .await
        .map(Box::new)
        .map_err(reason);
    Action::ApproveDone { id, result }
}
