//! State machines of callouts, batch operations and phone calls (SCFM §9). Pure functions: the
//! store applies a transition as one conditional UPDATE whose WHERE clause lists `from` states,
//! so two processes can never both apply it.

/// Callout events fired through the API.
pub fn callout_transition(event: &str) -> Option<(&'static [&'static str], &'static str)> {
    match event {
        "start" => Some((&["initialized"], "running")),
        "pause" => Some((&["running"], "paused")),
        "resume" => Some((&["paused", "stopped"], "running")),
        "stop" => Some((&["running", "paused"], "stopped")),
        _ => None,
    }
}

pub const CALLOUT_STATUSES: &[&str] = &["initialized", "running", "paused", "stopped"];

/// Batch operation events fired through the API.
pub fn batch_operation_transition(event: &str) -> Option<(&'static [&'static str], &'static str)> {
    match event {
        "queue" => Some((&["preview"], "queued")),
        "requeue" => Some((&["finished"], "queued")),
        _ => None,
    }
}

/// Phone call events fired through the API (`complete` and `queue_remote` are internal).
pub fn phone_call_api_transition(event: &str) -> Option<(&'static [&'static str], &'static str)> {
    match event {
        "queue" => Some((&["created"], "queued")),
        "queue_remote_fetch" => Some((&["remotely_queued"], "remote_fetch_queued")),
        _ => None,
    }
}

pub const PHONE_CALL_TERMINAL: &[&str] = &[
    "errored",
    "busy",
    "failed",
    "not_answered",
    "canceled",
    "completed",
];

/// States from which `complete` may move a call.
pub const PHONE_CALL_COMPLETABLE: &[&str] = &[
    "created",
    "remotely_queued",
    "remote_fetch_queued",
    "in_progress",
];

/// Maps a provider status to the local status `complete` moves to (SCFM §9.3).
pub fn status_for_remote(remote_status: &str) -> Option<&'static str> {
    match remote_status {
        "ringing" | "in-progress" | "answered" => Some("in_progress"),
        "busy" => Some("busy"),
        "failed" => Some("failed"),
        "no-answer" => Some("not_answered"),
        "canceled" => Some("canceled"),
        "completed" => Some("completed"),
        _ => None,
    }
}

/// Rank of provider statuses, so late or reordered callbacks never move a call backwards
/// (providers.md §3.1). Unknown values rank lowest.
pub fn remote_status_rank(s: &str) -> u8 {
    match s {
        "queued" => 1,
        "initiated" => 2,
        "ringing" => 3,
        "in-progress" | "answered" => 4,
        "completed" | "busy" | "no-answer" | "failed" | "canceled" => 5,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callout_machine() {
        assert_eq!(
            callout_transition("start"),
            Some((&["initialized"][..], "running"))
        );
        assert_eq!(callout_transition("resume").map(|t| t.1), Some("running"));
        assert!(callout_transition("stop").unwrap().0.contains(&"paused"));
        assert_eq!(callout_transition("complete"), None);
    }

    #[test]
    fn batch_machine() {
        assert_eq!(batch_operation_transition("queue").unwrap().0, &["preview"]);
        assert_eq!(
            batch_operation_transition("requeue").unwrap().0,
            &["finished"]
        );
        assert_eq!(batch_operation_transition("start"), None);
        assert_eq!(batch_operation_transition("finish"), None);
    }

    #[test]
    fn phone_call_machine() {
        assert_eq!(phone_call_api_transition("queue").unwrap().1, "queued");
        assert_eq!(phone_call_api_transition("complete"), None);
        assert_eq!(phone_call_api_transition("queue_remote"), None);
        assert_eq!(status_for_remote("no-answer"), Some("not_answered"));
        assert_eq!(status_for_remote("ringing"), Some("in_progress"));
        assert_eq!(status_for_remote("queued"), None);
        assert!(remote_status_rank("ringing") < remote_status_rank("completed"));
        assert!(remote_status_rank("bogus") < remote_status_rank("queued"));
    }
}
