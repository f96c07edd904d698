//! Plain domain types and rules: no IO, no SQL, no HTTP. Everything here is testable alone.
//! The service layer combines these rules with storage; HTTP and the TUI never call them directly
//! for anything that changes data.

pub mod actor;
pub mod approval;
pub mod batch;
pub mod call_flow;
pub mod cap;
pub mod congestion;
pub mod dialing;
pub mod filter;
pub mod gsm7;
pub mod journal;
pub mod metadata;
pub mod msisdn;
pub mod outcome;
pub mod page;
pub mod records;
pub mod route;
pub mod sitrep;
pub mod sitrep_text;
pub mod sms_fallback;
pub mod status;
pub mod time;
pub mod validation;

pub use msisdn::{Msisdn, MsisdnError};
pub use page::{Page, Paged};
pub use records::{
    BatchOperation, Callout, Contact, Operator, Participation, PhoneCall, RemotePhoneCallEvent,
};
pub use validation::ValidationErrors;
