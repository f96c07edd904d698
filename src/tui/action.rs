//! Actions (what happened or what the operator asked for) and effects (work the App asks the
//! effect runner to do against the Service). `App::update` turns actions into state changes and
//! effects; it never awaits.

use crate::domain::sitrep::Sitrep;
use crate::domain::{BatchOperation, Callout, Contact};
use crate::service::ServiceEvent;
use crate::service::tui_queries::{
    ApprovalRequest, BatchSummary, CalloutDetail, CalloutSummary, ContactDetail, LiveCalls,
    PopulationPreview,
};
use crate::service::{CapOutcome, ImportProgress, ImportReport};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneId {
    Contacts,
    Callouts,
    Previews,
    Calls,
}

impl PaneId {
    pub const ALL: [PaneId; 4] = [
        PaneId::Contacts,
        PaneId::Callouts,
        PaneId::Previews,
        PaneId::Calls,
    ];

    pub fn index(self) -> usize {
        match self {
            PaneId::Contacts => 0,
            PaneId::Callouts => 1,
            PaneId::Previews => 2,
            PaneId::Calls => 3,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PaneId::Contacts => "Contacts",
            PaneId::Callouts => "Callouts",
            PaneId::Previews => "Batch previews",
            PaneId::Calls => "Live calls",
        }
    }

    pub fn next(self) -> PaneId {
        PaneId::ALL[(self.index() + 1) % 4]
    }

    pub fn prev(self) -> PaneId {
        PaneId::ALL[(self.index() + 3) % 4]
    }
}

/// List movement, shared by every pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

/// Callout state changes the operator can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalloutVerb {
    Start,
    Pause,
    Resume,
    Stop,
}

impl CalloutVerb {
    pub fn event(self) -> &'static str {
        match self {
            CalloutVerb::Start => "start",
            CalloutVerb::Pause => "pause",
            CalloutVerb::Resume => "resume",
            CalloutVerb::Stop => "stop",
        }
    }
}

/// Which keyset page of contacts to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Rows with id greater than this, ascending (0 = from the start).
    After(i64),
    /// Rows with id less than this (i64::MAX = the end), still shown ascending.
    Before(i64),
}

/// The contents of the callout form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalloutFields {
    pub name: String,
    pub call_flow_logic: String,
    pub audio_url: String,
    pub message: String,
    pub from: String,
    /// Whether the callout has dialing settings (a campaign) or is manual.
    pub dialing_on: bool,
    /// The dialing fields as typed, in the order of `widgets::callout_form::DIALING`.
    pub dialing: Vec<String>,
}

/// What `:export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTarget {
    Contacts,
    Callout(i64),
    /// The never-reached list of a callout, by area (`:unreached`).
    Unreached(i64),
}

impl ExportTarget {
    pub fn describe(self) -> String {
        match self {
            ExportTarget::Contacts => "contacts".into(),
            ExportTarget::Callout(id) => format!("participations of callout {id}"),
            ExportTarget::Unreached(id) => format!("people callout {id} did not reach"),
        }
    }

    /// What must exist for the export: `callout 3`.
    pub fn describe_owner(self) -> String {
        match self {
            ExportTarget::Contacts => "contacts".into(),
            ExportTarget::Callout(id) | ExportTarget::Unreached(id) => format!("callout {id}"),
        }
    }
}

/// What `:cap` came to: the service's outcome and the pace for the ETA.
#[derive(Debug, Clone, PartialEq)]
pub struct CapReport {
    pub outcome: CapOutcome,
    /// Calls per second new attempts go out at now (the ETA of every first call).
    pub calls_per_second: f64,
}

#[derive(Debug, Clone)]
pub enum Action {
    // Global commands.
    Quit,
    ForceQuit,
    NextPane,
    PrevPane,
    Focus(PaneId),
    ShowHelp,
    OpenCommandLine,
    OpenFilter,
    Back,
    RunCommand(String),
    OpenCallout(i64),
    Nav(Nav),
    /// `:import FILE [--msisdn-column NAME]`.
    Import {
        path: String,
        msisdn_column: Option<String>,
    },
    /// `:export contacts FILE` / `:export callout ID FILE`.
    Export {
        target: ExportTarget,
        path: String,
    },
    /// `:invalid`: the invalid rows of the last import.
    ShowImportErrors,
    /// `:cap FILE [--area-map MAP]`: a CAP alert into a draft callout.
    ImportCap {
        path: String,
        area_map: Option<String>,
    },
    /// `A` / `:approvals`: the list of callouts waiting for a second operator.
    OpenApprovals,
    /// `S` / `:sitrep`: the selected callout's situation report.
    ShowSitrep,
    /// `:unreached [FILE]`: the selected callout's never-reached list as CSV (default file
    /// `unreached-ID.csv`).
    ExportUnreached(Option<String>),
    /// Approve the callout selected in the approvals list (asks first).
    Approve,
    // Pane verbs.
    New,
    Edit,
    Delete,
    Open,
    Queue,
    Requeue,
    Callout(CalloutVerb),
    ApplyFilter(String),
    /// A pane refused a key; says why in the status bar.
    Disabled(&'static str),
    // Forms.
    SubmitContact {
        id: Option<i64>,
        msisdn: String,
        metadata: String,
    },
    SubmitCallout {
        id: Option<i64>,
        fields: CalloutFields,
    },
    SubmitPreview {
        callout_id: String,
        filter: String,
    },
    // Confirmed work.
    DoDeleteContact(i64),
    DoCalloutEvent {
        id: i64,
        verb: CalloutVerb,
    },
    DoBatchEvent {
        id: i64,
        event: &'static str,
    },
    DoApprove(i64),
    // Results of effects.
    ContactsLoaded {
        seq: u64,
        anchor: Anchor,
        rows: Vec<Contact>,
    },
    ContactsCounted {
        seq: u64,
        total: i64,
    },
    ContactDetailLoaded(Box<ContactDetail>),
    ContactSaved(Box<Contact>),
    ContactDeleted(i64),
    CalloutsLoaded(Vec<CalloutSummary>),
    CalloutDetailLoaded(Box<CalloutDetail>),
    CalloutSaved(Box<Callout>),
    CalloutEventCounted {
        id: i64,
        verb: CalloutVerb,
        people: i64,
    },
    CalloutEventDone {
        id: i64,
        verb: CalloutVerb,
        status: String,
    },
    BatchesLoaded(Vec<BatchSummary>),
    PreviewLoaded(Box<PopulationPreview>),
    BatchEventDone(Box<BatchOperation>),
    LiveLoaded(Box<LiveCalls>),
    InFlightCounted(i64),
    ImportProgress(ImportProgress),
    ImportFinished {
        path: String,
        result: Result<Box<ImportReport>, String>,
    },
    ExportFinished {
        target: ExportTarget,
        path: String,
        result: Result<u64, String>,
    },
    CapImported {
        path: String,
        result: Result<Box<CapReport>, String>,
    },
    ApprovalsLoaded(Vec<ApprovalRequest>),
    SitrepLoaded {
        callout_id: i64,
        result: Result<Box<Sitrep>, String>,
    },
    /// An approval went through (the callout as approved), or was refused (the rule's reason).
    ApproveDone {
        id: i64,
        result: Result<Box<Callout>, String>,
    },
    Failed {
        what: &'static str,
        reason: String,
    },
    // Changes from outside the App.
    ServiceChanged(ServiceEvent),
    /// Events were missed (broadcast lag) or another process wrote: everything may be stale.
    AllStale,
    /// The database stopped answering (why), or answers again (`None`).
    DatabaseState(Option<String>),
    /// Reload whatever is stale and visible.
    Refresh,
    Resize,
}

/// Work against the Service, run off the UI task by `effects::run`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadContacts {
        seq: u64,
        filter: Map<String, Value>,
        anchor: Anchor,
        limit: i64,
    },
    CountContacts {
        seq: u64,
        filter: Map<String, Value>,
    },
    LoadContactDetail(i64),
    SaveContact {
        id: Option<i64>,
        msisdn: String,
        metadata: Map<String, Value>,
    },
    DeleteContact(i64),
    LoadCallouts,
    LoadCalloutDetail(i64),
    SaveCallout {
        id: Option<i64>,
        call_flow_logic: Option<String>,
        metadata: Map<String, Value>,
        /// `None` leaves the settings as they are; `Some(None)` removes them (manual callout).
        dialing: Option<Option<Map<String, Value>>>,
    },
    CountCalloutPeople {
        id: i64,
        verb: CalloutVerb,
    },
    FireCalloutEvent {
        id: i64,
        verb: CalloutVerb,
    },
    LoadBatches,
    BuildPreview {
        callout_id: i64,
        filter: Map<String, Value>,
    },
    LoadPreview(i64),
    FireBatchEvent {
        id: i64,
        event: &'static str,
    },
    LoadLive {
        callout_id: Option<i64>,
        statuses: Vec<String>,
    },
    CountInFlight,
    /// Imports a CSV file; progress comes back as `Action::ImportProgress`.
    ImportContacts {
        path: String,
        msisdn_column: Option<String>,
    },
    /// Writes a CSV file (to a temporary name, renamed when complete).
    Export {
        target: ExportTarget,
        path: String,
        /// The area map whose `group_by` groups the never-reached list by default.
        area_map: Option<String>,
    },
    /// The situation report of a callout (grouped by default as the area map says).
    LoadSitrep {
        callout_id: i64,
        area_map: Option<String>,
    },
    /// Reads a CAP alert (a file or URL) and the area map, and drafts its callout.
    ImportCap {
        path: String,
        area_map: String,
    },
    LoadApprovals,
    ApproveCallout(i64),
}
