//! Records as stored and as the API renders them. Field order is the JSON key order of SCFM's
//! resources (§3). JSON columns decode to `serde_json::Value` with their key order preserved.
//! Plain data: the store reads them from rows (`store/rows.rs`), nothing here knows SQL.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: i64,
    pub msisdn: String,
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Callout {
    pub id: i64,
    pub status: String,
    pub call_flow_logic: Option<String>,
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
    /// Campaign runner settings; absent from the JSON when unset, so SCFM's shape is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialing: Option<Value>,
    /// The named operator who created it / started it (absent for SCFM's shared credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// Two-person start: it starts only after a second operator approved it. Absent when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub requires_approval: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchOperation {
    pub id: i64,
    pub callout_id: Option<i64>,
    pub parameters: Value,
    pub metadata: Value,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participation {
    pub id: i64,
    pub callout_id: i64,
    pub contact_id: i64,
    pub callout_population_id: Option<i64>,
    pub msisdn: String,
    /// Effective value: own, else the callout's (SCFM §3).
    pub call_flow_logic: Option<String>,
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
    /// The stored column (filters and validation use this one).
    #[serde(skip)]
    pub own_call_flow_logic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhoneCall {
    pub id: i64,
    pub callout_participation_id: Option<i64>,
    pub contact_id: i64,
    pub create_batch_operation_id: Option<i64>,
    pub queue_batch_operation_id: Option<i64>,
    pub queue_remote_fetch_batch_operation_id: Option<i64>,
    pub status: String,
    pub msisdn: String,
    pub remote_call_id: Option<String>,
    pub remote_status: Option<String>,
    pub remote_direction: Option<String>,
    pub remote_error_message: Option<String>,
    pub metadata: Value,
    pub remote_response: Value,
    pub remote_request_params: Value,
    pub remote_queue_response: Value,
    /// Effective value: own, else the participation's, else the callout's (SCFM §3).
    pub call_flow_logic: Option<String>,
    pub remotely_queued_at: Option<String>,
    /// The provider account that placed it (`primary`, `fallback`; null until it is placed).
    pub route: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub own_call_flow_logic: Option<String>,
    #[serde(skip)]
    pub callout_id: Option<i64>,
    #[serde(skip)]
    pub dial_attempt_id: Option<String>,
    #[serde(skip)]
    pub dial_started_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemotePhoneCallEvent {
    pub id: i64,
    pub phone_call_id: i64,
    pub details: Value,
    pub metadata: Value,
    pub remote_call_id: String,
    pub remote_direction: String,
    pub call_flow_logic: String,
    pub created_at: String,
    pub updated_at: String,
}

/// An operator account (its token's hash stays in the store).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operator {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}
