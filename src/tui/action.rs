//! Actions (what happened or what the operator asked for) and effects (work the App asks the
//! effect runner to do against the Service). `App::update` turns actions into state changes and
//! effects; it never awaits.

use crate::service::ServiceEvent;
use crate::service::tui_queries::{
    BatchSummary, CalloutDetail, CalloutSummary, ContactDetail, LiveCalls, PopulationPreview,
};
use crate::store::{BatchOperation, Callout, Contact};
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
    Failed {
        what: &'static str,
        reason: String,
    },
    // Changes from outside the App.
    ServiceChanged(ServiceEvent),
    /// Events were missed (broadcast lag) or another process wrote: everything may be stale.
    AllStale,
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
}
