//! The service layer: the one place where business rules live. HTTP handlers, TUI effects and
//! workers all call a cheap-to-clone `Service`. Each method validates its input with the domain
//! rules, runs the storage calls (inside one `BEGIN IMMEDIATE` transaction when it reads then
//! writes), and after commit publishes a small `ServiceEvent` saying what changed.

mod batch_operations;
mod callout_dialing;
mod callouts;
mod campaigns;
mod cap;
mod cap_feed;
mod changes;
mod congestion;
mod contacts;
mod csv_lines;
mod dial_pace;
mod dialing;
mod error;
mod events;
mod export;
mod flow_turns;
mod follow_up;
mod holds;
mod import;
mod journal;
mod operators;
mod participations;
mod phone_call_batches;
mod phone_calls;
mod remote_events;
mod routes;
mod sitrep;
mod text_messages;
mod text_status;
mod unreached;

pub use batch_operations::{BatchOperationInput, ResultKind};
pub mod tui_queries;
pub use callouts::CalloutInput;
pub use campaigns::Progress;
pub use cap::{CapOutcome, DraftArea, read_alert, read_area_map};
pub use cap_feed::{CapDocument, FeedReport, FeedResult, parse_cap_document};
pub use changes::ChangeFeed;
pub use congestion::{DialingHealth, RouteFigures, RouteHealth};
pub use contacts::ContactInput;
pub use dial_pace::{CLAIM_LEAD, DialTurn, MAX_CLAIM_LEAD, PACE_GUARD};
pub use dialing::{DialOutcome, Dialing, SendResult, Sent};
pub use error::{Error, Result};
pub use events::ServiceEvent;
pub use export::spreadsheet_safe;
pub use import::{ImportOptions, ImportProgress, ImportReport, InvalidRow, MAX_INVALID_LISTED};
pub use journal::JournalCheck;
pub use operators::NewOperator;
pub use participations::{ParticipationInput, ParticipationParent};
pub use phone_calls::{PhoneCallInput, PhoneCallParent};
pub use remote_events::{EventParent, WebhookOutcome, WebhookRequest};
pub use routes::{Fallback, ON_FALLBACK};
pub use text_messages::{TEXT_EVENTS_PATH, TEXT_PARAM, TextTurn};
pub use text_status::TextSummary;
pub use unreached::{UnreachedOut, UnreachedReport, area_file_name};

use crate::call_flow::Registry;
use crate::domain::actor::Actor;
use crate::domain::time::Clock;
use crate::store::Store;
use crate::store::group_commit::{GroupCommit, Stats};
use std::sync::{Arc, OnceLock};
use tokio::sync::{Notify, broadcast};

/// Wake-ups for background workers, poked after a commit that gives them work. Workers also
/// poll on a slow interval, so a missed poke (or work queued by another process) is still found.
#[derive(Debug, Default)]
pub struct Wake {
    pub batch_operations: Notify,
    pub dialer: Notify,
    pub poller: Notify,
    /// An entry was recorded for the journal (the sealer chains it).
    pub journal: Notify,
}

struct Inner {
    store: Store,
    clock: Clock,
    registry: Registry,
    dialing: Dialing,
    events: broadcast::Sender<ServiceEvent>,
    wake: Wake,
    /// The dialling hold as this process last saw it in the database (where it lives, shared
    /// by every process on the file), so `DialingHeld` is published when it changes.
    hold_seen: std::sync::Mutex<Option<String>>,
    /// This process's recent create answers and call ends (congestion control).
    congestion: std::sync::Mutex<[crate::domain::congestion::Window; 2]>,
    /// The account's pace as this process last saw it (`DialingSlowed` on change).
    pace_seen: std::sync::Mutex<congestion::PaceSeen>,
    /// Whether this process's dialler last claimed on the fallback route.
    on_fallback: std::sync::atomic::AtomicBool,
    /// The webhooks' group-commit writer, started on first use (inside the runtime).
    webhooks: OnceLock<GroupCommit<remote_events::WebhookJob>>,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
    /// Who this handle acts for: recorded in the journal and on what it makes. Clones share
    /// everything else ([`Service::acting_as`]).
    actor: Actor,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("db", &self.inner.store.describe())
            .finish()
    }
}

impl Service {
    /// A service without a voice provider (queued calls end `errored`, saying so).
    pub fn new(store: Store, clock: Clock, registry: Registry) -> Self {
        Self::with_dialing(store, clock, registry, Dialing::default())
    }

    pub fn with_dialing(store: Store, clock: Clock, registry: Registry, dialing: Dialing) -> Self {
        let (events, _) = broadcast::channel(4096);
        let wake = Wake::default();
        Service {
            inner: Arc::new(Inner {
                store,
                clock,
                registry,
                dialing,
                events,
                wake,
                hold_seen: std::sync::Mutex::new(None),
                congestion: Default::default(),
                pace_seen: Default::default(),
                on_fallback: Default::default(),
                webhooks: OnceLock::new(),
            }),
            actor: Actor::System,
        }
    }

    /// The same service acting for `actor` (an HTTP request's operator, the TUI's).
    pub fn acting_as(&self, actor: Actor) -> Service {
        Service {
            inner: self.inner.clone(),
            actor,
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn dialing(&self) -> &Dialing {
        &self.inner.dialing
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Which database the service runs on, for display (the TUI's status bar).
    pub fn database(&self) -> String {
        self.inner.store.describe()
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn wake(&self) -> &Wake {
        &self.inner.wake
    }

    pub(crate) fn hold_seen(&self) -> &std::sync::Mutex<Option<String>> {
        &self.inner.hold_seen
    }

    pub(crate) fn webhook_writer(&self) -> &GroupCommit<remote_events::WebhookJob> {
        self.inner
            .webhooks
            .get_or_init(|| self.inner.store.group_commit())
    }

    /// Counters of the webhooks' group-commit writer (jobs, batches), if it has started.
    pub fn webhook_batches(&self) -> Option<&Stats> {
        self.inner.webhooks.get().map(GroupCommit::stats)
    }

    /// Seals the journal (waiting for a sealer elsewhere), then closes the store: the end of a
    /// command that wrote. A failed seal is logged; the entries stay recorded and the next
    /// sealer (any `scfm serve`, TUI, verify or export) chains them.
    pub async fn shutdown(&self) {
        if let Err(e) = self
            .seal_journal(crate::store::journal::Sealing::Wait)
            .await
        {
            tracing::warn!(error = %e, "journal entries left for the next sealer");
        }
        self.store().close().await;
    }

    /// Subscribe to change notifications (ids and kinds, never whole rows).
    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn publish(&self, event: ServiceEvent) {
        // No subscribers is fine (headless server).
        let _ = self.inner.events.send(event);
    }

    pub(crate) fn now(&self) -> String {
        self.inner.clock.now_str()
    }
}

/// Serialises a JSON object for storage.
pub(crate) fn json_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

/// The object inside a stored JSON column (`{}` when the column holds anything else).
pub(crate) fn as_map(v: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Validates an optional call flow logic value against the registry.
pub(crate) fn check_call_flow_logic(
    registry: &Registry,
    value: Option<&str>,
    errors: &mut crate::domain::ValidationErrors,
) {
    if let Some(name) = value {
        if !registry.is_registered(name) {
            errors.add("call_flow_logic", crate::domain::validation::NOT_IN_LIST);
        }
    }
}
