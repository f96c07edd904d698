//! Starting a callout's dialling in one step (the TUI's `s` key): a campaign is started and its
//! runner does the rest; a manual callout is started and gets a PhoneCallCreate for everyone
//! without a call plus a PhoneCallQueue for its created calls.

use super::{BatchOperationInput, Error, Result, Service};
use crate::domain::Callout;
use crate::domain::batch::BatchType;
use serde_json::{Map, Value, json};

impl Service {
    /// Starts a callout and dials everyone in it who has no call yet. A callout with dialing
    /// settings is a campaign: only `start` (or `resume`) is fired and its runner does the rest.
    /// A manual callout: fires `start` (or `resume`), then queues a PhoneCallCreate for the callout's participations without calls
    /// and a PhoneCallQueue for its `created` calls. The batch worker runs them in id order.
    /// `remote_request_params` come from the callout's metadata (`from`) and the public URL.
    pub async fn start_callout_dialing(&self, id: i64) -> Result<Callout> {
        let callout = self.callout(id).await?;
        let campaign = serde_json::to_value(&callout)
            .ok()
            .and_then(|v| v.get("dialing").cloned())
            .is_some_and(|d| !d.is_null());
        if campaign {
            // A campaign: its runner creates and paces the calls once the callout runs.
            let event = if callout.status == "initialized" {
                "start"
            } else {
                "resume"
            };
            return self.fire_callout_event(id, Some(event)).await;
        }
        let people = self.callout_people(id).await?;
        if people == 0 {
            return Err(Error::invalid(
                "callout",
                "has nobody to call: build and queue a population first",
            ));
        }
        let url = match (&self.dialing().public_url, self.dialing().simulated()) {
            (Some(base), _) => format!("{base}/api/remote_phone_call_events"),
            (None, true) => "http://127.0.0.1/api/remote_phone_call_events".into(),
            (None, false) => {
                return Err(Error::invalid(
                    "base",
                    "SCFM_PUBLIC_URL is not set: the provider could not fetch the call flow",
                ));
            }
        };
        let mut rrp = Map::new();
        rrp.insert("url".into(), Value::String(url));
        rrp.insert("method".into(), Value::String("POST".into()));
        if let Some(from) = callout.metadata.get("from").and_then(Value::as_str) {
            rrp.insert("from".into(), Value::String(from.into()));
        }
        let event = if callout.status == "initialized" {
            "start"
        } else {
            "resume"
        };
        let started = self.fire_callout_event(id, Some(event)).await?;
        let parts = json!({"callout_id": id.to_string(), "has_phone_calls": "false"});
        let create = self
            .create_batch_operation(
                BatchOperationInput {
                    kind: Some(BatchType::PhoneCallCreate.as_str().into()),
                    callout_id: Some(id),
                    parameters: Some(params(json!({
                        "callout_participation_filter_params": parts,
                        "remote_request_params": Value::Object(rrp),
                        "skip_validate_preview_presence": "1",
                    }))),
                    ..BatchOperationInput::default()
                },
                false,
            )
            .await?;
        let queue = self
            .create_batch_operation(
                BatchOperationInput {
                    kind: Some(BatchType::PhoneCallQueue.as_str().into()),
                    callout_id: Some(id),
                    parameters: Some(params(json!({
                        "callout_participation_filter_params": {"callout_id": id.to_string()},
                        "phone_call_filter_params": {"status": "created"},
                        "skip_validate_preview_presence": "1",
                    }))),
                    ..BatchOperationInput::default()
                },
                false,
            )
            .await?;
        self.fire_batch_operation_event(create.id, Some("queue"))
            .await?;
        self.fire_batch_operation_event(queue.id, Some("queue"))
            .await?;
        Ok(started)
    }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
