//! The simulated provider, for drills and demos only (`PLATFORM_PROVIDER=simulator`): it accepts
//! calls and plays realistic outcomes (answered, busy, no answer, failed) over seconds, reported
//! through the same fetch path the real providers use, so calls move through the same worker and
//! state machine. Nothing leaves the machine. It is never chosen unless asked for by name.

use super::{CreateCall, CreateMessage, Provider, ProviderError, RemoteCall, RemoteMessage};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone)]
struct SimCall {
    sid: String,
    to: String,
    from: String,
    created: DateTime<Utc>,
    /// Final provider status this call will reach.
    outcome: &'static str,
    ring: Duration,
    talk: Duration,
}

/// In-memory simulated provider. `speed` divides every delay (1 = realistic).
pub struct Simulator {
    calls: Mutex<HashMap<String, SimCall>>,
    /// Texts: sid -> (to, created). Each is delivered a simulated few seconds later.
    messages: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    counter: Mutex<u64>,
    speed: f64,
}

impl Simulator {
    pub fn new(speed: f64) -> Self {
        Simulator {
            calls: Mutex::new(HashMap::new()),
            messages: Mutex::new(HashMap::new()),
            counter: Mutex::new(0),
            speed: speed.max(0.001),
        }
    }

    fn scaled(&self, secs: f64) -> Duration {
        Duration::from_secs_f64(secs / self.speed)
    }

    /// Deterministic outcome by number: most answer, some are busy, unanswered or failing.
    fn outcome_for(to: &str, n: u64) -> &'static str {
        let h = to.bytes().fold(n.wrapping_mul(0x9e37_79b9), |a, b| {
            a.wrapping_mul(31).wrapping_add(b as u64)
        });
        match h % 20 {
            0..=11 => "completed",
            12..=14 => "no-answer",
            15..=17 => "busy",
            _ => "failed",
        }
    }

    fn status_at(c: &SimCall, now: DateTime<Utc>) -> &'static str {
        let elapsed = (now - c.created).to_std().unwrap_or_default();
        let ring_start = Duration::from_millis(c.ring.as_millis() as u64 / 4);
        if elapsed < ring_start {
            return "queued";
        }
        match c.outcome {
            "completed" => {
                if elapsed < c.ring {
                    "ringing"
                } else if elapsed < c.ring + c.talk {
                    "in-progress"
                } else {
                    "completed"
                }
            }
            "failed" => "failed",
            other => {
                if elapsed < c.ring {
                    "ringing"
                } else {
                    other
                }
            }
        }
    }

    fn json(c: &SimCall, status: &str) -> serde_json::Value {
        let date = c.created.format("%a, %d %b %Y %H:%M:%S +0000").to_string();
        serde_json::json!({
            "sid": c.sid, "account_sid": "SIMULATOR", "to": c.to, "from": c.from,
            "status": status, "direction": "outbound-api", "api_version": "2010-04-01",
            "date_created": date, "date_updated": date, "price": null, "price_unit": "USD",
            "uri": format!("/2010-04-01/Accounts/SIMULATOR/Calls/{}.json", c.sid), "subresource_uris": {},
        })
    }
}

impl Simulator {
    fn message(&self, sid: &str, to: &str, created: DateTime<Utc>) -> RemoteMessage {
        let delivered = (Utc::now() - created).to_std().unwrap_or_default() >= self.scaled(3.0);
        RemoteMessage {
            sid: sid.to_string(),
            status: Some(if delivered { "delivered" } else { "sent" }.into()),
            to: Some(to.to_string()),
            date_created: Some(created.to_rfc2822()),
            error_code: None,
            error_message: None,
        }
    }
}

impl Provider for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn create_message<'a>(
        &'a self,
        req: &'a CreateMessage,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>> {
        Box::pin(async move {
            let n = {
                let mut c = self.counter.lock().map_err(|_| ProviderError::NotSent {
                    message: "simulator poisoned".into(),
                })?;
                *c += 1;
                *c
            };
            let sid = format!("SMSIM{n:027}");
            let now = Utc::now();
            if let Ok(mut m) = self.messages.lock() {
                m.insert(sid.clone(), (req.to.clone(), now));
            }
            let mut m = self.message(&sid, &req.to, now);
            m.status = Some("queued".into());
            Ok(m)
        })
    }

    fn fetch_message<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>> {
        Box::pin(async move {
            let found = self.messages.lock().ok().and_then(|m| m.get(sid).cloned());
            match found {
                Some((to, created)) => Ok(self.message(sid, &to, created)),
                None => Err(ProviderError::Rejected {
                    status: 404,
                    code: Some("20404".into()),
                    message: format!("message {sid} not found"),
                }),
            }
        })
    }

    fn list_messages<'a>(
        &'a self,
        to: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<RemoteMessage>, ProviderError>> {
        Box::pin(async move {
            let all: Vec<(String, (String, DateTime<Utc>))> = self
                .messages
                .lock()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            Ok(all
                .into_iter()
                .filter(|(_, (t, created))| t == to && *created >= since)
                .map(|(sid, (t, created))| self.message(&sid, &t, created))
                .collect())
        })
    }

    fn create_call<'a>(
        &'a self,
        req: &'a CreateCall,
    ) -> BoxFuture<'a, Result<RemoteCall, ProviderError>> {
        Box::pin(async move {
            let to = req.get("To").unwrap_or_default().to_string();
            let n = {
                let mut c = self.counter.lock().map_err(|_| ProviderError::NotSent {
                    message: "simulator poisoned".into(),
                })?;
                *c += 1;
                *c
            };
            let outcome = Self::outcome_for(&to, n);
            let call = SimCall {
                sid: format!("SIM{n:029}"),
                to,
                from: req.get("From").unwrap_or_default().to_string(),
                created: Utc::now(),
                outcome,
                ring: self.scaled(4.0 + (n % 5) as f64),
                talk: self.scaled(8.0 + (n % 7) as f64),
            };
            let json = Self::json(&call, "queued");
            if let Ok(mut calls) = self.calls.lock() {
                calls.insert(call.sid.clone(), call);
            }
            RemoteCall::from_json(json).ok_or(ProviderError::Unknown {
                status: None,
                message: "simulator".into(),
            })
        })
    }

    fn fetch_call<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<RemoteCall, ProviderError>> {
        Box::pin(async move {
            let call = self.calls.lock().ok().and_then(|c| c.get(sid).cloned());
            let Some(call) = call else {
                return Err(ProviderError::Rejected {
                    status: 404,
                    code: Some("20404".into()),
                    message: format!("The requested resource /Calls/{sid}.json was not found"),
                });
            };
            let json = Self::json(&call, Self::status_at(&call, Utc::now()));
            RemoteCall::from_json(json).ok_or(ProviderError::Unknown {
                status: None,
                message: "simulator".into(),
            })
        })
    }

    fn list_calls<'a>(
        &'a self,
        to: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<RemoteCall>, ProviderError>> {
        Box::pin(async move {
            let calls: Vec<SimCall> = self
                .calls
                .lock()
                .map(|c| {
                    c.values()
                        .filter(|c| c.to == to && c.created >= since)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let now = Utc::now();
            Ok(calls
                .iter()
                .filter_map(|c| RemoteCall::from_json(Self::json(c, Self::status_at(c, now))))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_reach_final_states() {
        let sim = Simulator::new(1000.0);
        let mut finals = std::collections::HashSet::new();
        let mut sids = Vec::new();
        for i in 0..40 {
            let req = CreateCall {
                params: vec![
                    ("To".into(), format!("+8551234{i:04}")),
                    ("From".into(), "1".into()),
                ],
            };
            sids.push(sim.create_call(&req).await.unwrap().sid);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        for sid in sids {
            let s = sim.fetch_call(&sid).await.unwrap().status.unwrap();
            assert!(
                ["completed", "busy", "no-answer", "failed"].contains(&s.as_str()),
                "{s}"
            );
            finals.insert(s);
        }
        assert!(finals.len() >= 3, "outcomes should vary: {finals:?}");
        assert!(sim.fetch_call("nope").await.is_err());
    }
}
