//! Change notifications published after commits. They say what changed; listeners (the TUI,
//! workers) pull the state they need.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    ContactsChanged,
    CalloutChanged(i64),
    ParticipationsChanged {
        callout_id: i64,
    },
    BatchOperationChanged(i64),
    PhoneCallChanged(i64),
    /// Many calls changed at once (a batch run).
    PhoneCallsChanged,
    /// Dialling was held (the provider refused our credentials) or released.
    DialingHeld(Option<String>),
    /// Congestion control lowered the pace ("10.0 of 20/s: why"), or it is back at the cap.
    DialingSlowed(Option<String>),
}
