//! The situation report effect (`S` / `:sitrep` in the callouts pane): asks the service for the
//! report, grouped as the callout says, else as the area map's `group_by` says. The map is read
//! here, off the draw loop; an unreadable map only loses the default grouping.

use super::action::Action;
use crate::service::{Error, Service, read_area_map};
use std::path::Path;

/// The area map's `group_by`, if a map is configured and readable.
pub async fn map_grouping(area_map: Option<String>) -> Option<String> {
    let path = area_map?;
    match read_area_map(Path::new(&path)).await {
        Ok(map) => map.group_by,
        Err(e) => {
            tracing::warn!(error = %e, path, "area map unreadable; the report is not grouped by it");
            None
        }
    }
}

pub async fn load(service: &Service, callout_id: i64, area_map: Option<String>) -> Action {
    let by = map_grouping(area_map).await;
    let result = match service.sitrep(callout_id, None, by.as_deref()).await {
        Ok(r) => Ok(Box::new(r)),
        Err(Error::NotFound) => Err(format!("callout {callout_id} not found")),
        Err(e) => {
            tracing::warn!(error = %e, callout_id, "TUI sitrep failed");
            Err(e.to_string())
        }
    };
    Action::SitrepLoaded { callout_id, result }
}
