//! Read models for the TUI. Each function composes existing service methods and `crate::store`
//! functions; nothing here writes SQL. The TUI calls these from its effect tasks and never
//! touches the store itself.

use super::{
    BatchOperationInput, Error, ParticipationParent, PhoneCallParent, Progress, Result, Service,
};
use crate::domain::batch::BatchType;
use crate::domain::filter::{Family, Filter};
use crate::domain::{
    BatchOperation, Callout, Contact, Page, Paged, Participation, PhoneCall, RemotePhoneCallEvent,
};
use crate::store;
use serde_json::{Map, Value, json};

/// Statuses of calls that are still moving: quitting while these exist asks first.
pub const IN_FLIGHT: &[&str] = &[
    "queued",
    "remotely_queued",
    "remote_fetch_queued",
    "in_progress",
];

/// A callout with its progress: participations, calls by status, and the campaign progress
/// (reached, not reached by reason, pending, in progress, attempts, ETA).
#[derive(Debug, Clone, PartialEq)]
pub struct CalloutSummary {
    pub callout: Callout,
    pub participations: i64,
    pub calls: Vec<(String, i64)>,
    pub progress: Progress,
}

/// A contact with the callouts it takes part in and its latest calls.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactDetail {
    pub contact: Contact,
    pub callouts: Vec<Callout>,
    pub calls: Vec<PhoneCall>,
}

/// A callout's participations (first page) and latest calls.
#[derive(Debug, Clone, PartialEq)]
pub struct CalloutDetail {
    pub summary: CalloutSummary,
    pub participations: Vec<Participation>,
    pub participations_total: i64,
    pub calls: Vec<PhoneCall>,
}

/// A batch operation and, while it is queued or running, how far it got.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSummary {
    pub op: BatchOperation,
    /// (records made so far, records it will make) for populations in flight.
    pub progress: Option<(i64, i64)>,
}

/// A population preview: exactly who a CalloutPopulation will add.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationPreview {
    pub op: BatchOperation,
    pub total: i64,
    pub first: Vec<Contact>,
}

/// What the live-calls pane shows.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCalls {
    pub counts: Vec<(String, i64)>,
    /// Latest calls matching the filter, newest first.
    pub calls: Vec<PhoneCall>,
    pub total: i64,
    /// Latest remote events, newest first.
    pub events: Vec<RemotePhoneCallEvent>,
    /// Calls that reached a final status, per minute, oldest first (last 30 minutes).
    pub outcomes_per_minute: Vec<u64>,
    /// Progress of the filtered callout, else of running and paused callouts (at most 5),
    /// with each callout's name.
    pub campaigns: Vec<(String, Progress)>,
}

/// One population of a callout waiting for approval: what it selects and how many people.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationCount {
    pub batch_operation_id: i64,
    /// The CAP area it was made for (`cap_area` metadata), if any.
    pub area: Option<String>,
    /// Its `contact_filter_params` (what the approver reads when there is no area name).
    pub filter: Value,
    pub status: String,
    /// People it selects now.
    pub people: i64,
}

/// A callout waiting for a second operator, with what the approver must see before approving:
/// who asked, how many people, which areas, and the message callers will hear.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    pub callout: Callout,
    /// People in the callout now (its populations already run).
    pub participations: i64,
    pub populations: Vec<PopulationCount>,
    /// People it will call: those in it now plus those its populations not yet run select
    /// (a person in two areas is counted twice).
    pub people: i64,
    /// The areas: the callout's `cap_areas` metadata, else each population's area or filter.
    pub cap_areas: Vec<String>,
    /// What PlayMessage plays: a recording, else `<Say>` of the message.
    pub audio_url: Option<String>,
    pub message: Option<String>,
    /// Every language's text (`messages` metadata of a CAP draft), language first.
    pub messages: Vec<(String, String)>,
}

fn page(per_page: i64) -> Page {
    Page { page: 1, per_page }
}

/// The last page of an ascending list, newest first.
async fn newest<T, F, Fut>(per_page: i64, fetch: F) -> Result<(Vec<T>, i64)>
where
    F: Fn(Page) -> Fut,
    Fut: std::future::Future<Output = Result<Paged<T>>>,
{
    let first = fetch(page(per_page)).await?;
    let total = first.total;
    let mut items = if total > per_page {
        // The newest rows: the last `per_page` by id.
        let last = Page {
            page: first.total_pages(),
            per_page,
        };
        let mut tail = fetch(last).await?.items;
        if (tail.len() as i64) < per_page {
            let prev = fetch(Page {
                page: last.page - 1,
                per_page,
            })
            .await?;
            let mut joined = prev.items;
            joined.append(&mut tail);
            let skip = joined.len().saturating_sub(per_page as usize);
            joined.drain(..skip);
            tail = joined;
        }
        tail
    } else {
        first.items
    };
    items.reverse();
    Ok((items, total))
}

impl Service {
    /// Calls whose status is still moving (queued, dialled, ringing or talking).
    pub async fn calls_in_flight(&self) -> Result<i64> {
        Ok(self
            .phone_call_status_counts(None)
            .await?
            .iter()
            .filter(|(s, _)| IN_FLIGHT.contains(&s.as_str()))
            .map(|(_, n)| n)
            .sum())
    }

    /// Number of people (participations) in a callout.
    pub async fn callout_people(&self, id: i64) -> Result<i64> {
        let empty = Filter::empty(Family::Participation);
        Ok(self
            .participations(ParticipationParent::Callout(id), &empty, page(1))
            .await?
            .total)
    }

    pub async fn callout_summary(&self, callout: Callout) -> Result<CalloutSummary> {
        let participations = self.callout_people(callout.id).await?;
        let calls = self.phone_call_status_counts(Some(callout.id)).await?;
        let progress = self.callout_progress(callout.id).await?;
        Ok(CalloutSummary {
            callout,
            participations,
            calls,
            progress,
        })
    }

    /// The first `limit` callouts (by id) with their progress.
    pub async fn callout_summaries(&self, limit: i64) -> Result<Vec<CalloutSummary>> {
        let empty = Filter::empty(Family::Callout);
        let callouts = self.callouts(None, &empty, page(limit)).await?.items;
        let mut out = Vec::with_capacity(callouts.len());
        for c in callouts {
            out.push(self.callout_summary(c).await?);
        }
        Ok(out)
    }

    pub async fn callout_detail(&self, id: i64) -> Result<CalloutDetail> {
        let summary = self.callout_summary(self.callout(id).await?).await?;
        let empty = Filter::empty(Family::Participation);
        let parts = self
            .participations(ParticipationParent::Callout(id), &empty, page(100))
            .await?;
        let calls_filter = Filter::empty(Family::PhoneCall);
        let calls = self
            .latest_phone_calls(PhoneCallParent::Callout(id), &calls_filter, 100)
            .await?;
        Ok(CalloutDetail {
            summary,
            participations: parts.items,
            participations_total: parts.total,
            calls,
        })
    }

    pub async fn contact_detail(&self, id: i64) -> Result<ContactDetail> {
        let contact = self.contact(id).await?;
        let callouts = self
            .callouts(Some(id), &Filter::empty(Family::Callout), page(100))
            .await?
            .items;
        let f = Filter::empty(Family::PhoneCall);
        let calls = self
            .latest_phone_calls(PhoneCallParent::Contact(id), &f, 100)
            .await?;
        Ok(ContactDetail {
            contact,
            callouts,
            calls,
        })
    }

    /// Creates a CalloutPopulation in `preview` for `callout_id` from a contact filter (the
    /// `contact_filter_params` object) and returns its count and first page.
    pub async fn build_population_preview(
        &self,
        callout_id: i64,
        contact_filter_params: Map<String, Value>,
        first_page: i64,
    ) -> Result<PopulationPreview> {
        let mut parameters = Map::new();
        parameters.insert(
            "contact_filter_params".into(),
            Value::Object(contact_filter_params),
        );
        let op = self
            .create_batch_operation(
                BatchOperationInput {
                    kind: Some(BatchType::CalloutPopulation.as_str().into()),
                    callout_id: Some(callout_id),
                    parameters: Some(parameters),
                    ..BatchOperationInput::default()
                },
                true,
            )
            .await?;
        self.population_preview(op.id, first_page).await
    }

    /// Count and first page of who a population will add.
    pub async fn population_preview(&self, id: i64, first_page: i64) -> Result<PopulationPreview> {
        let op = self
            .batch_operation(id, &[BatchType::CalloutPopulation.as_str()])
            .await?;
        let shown = self
            .preview_contacts(id, &Filter::empty(Family::Contact), page(first_page))
            .await?;
        Ok(PopulationPreview {
            op,
            total: shown.total,
            first: shown.items,
        })
    }

    /// The latest `limit` batch operations, newest first, with progress for those in flight.
    pub async fn batch_summaries(&self, limit: i64) -> Result<Vec<BatchSummary>> {
        let f = Filter::empty(Family::BatchOperation);
        let (ops, _) = newest(limit, |p| self.batch_operations(None, &[], &f, p)).await?;
        let mut out = Vec::with_capacity(ops.len());
        let population = BatchType::CalloutPopulation.as_str();
        for op in ops {
            let in_flight = op.status == "queued" || op.status == "running";
            let progress = if in_flight && op.kind == population {
                let q = Filter::empty(Family::Contact);
                let will = self.preview_contacts(op.id, &q, page(1)).await?.total;
                let done = self.batch_result_contacts(op.id, &q, page(1)).await?.total;
                Some((done, will))
            } else {
                None
            };
            out.push(BatchSummary { op, progress });
        }
        Ok(out)
    }

    /// Latest calls (optionally for one callout and statuses), counts, events and outcomes.
    pub async fn live_calls(
        &self,
        callout_id: Option<i64>,
        statuses: &[String],
        limit: i64,
    ) -> Result<LiveCalls> {
        let counts = self.phone_call_status_counts(callout_id).await?;
        let parent = callout_id.map_or(PhoneCallParent::All, PhoneCallParent::Callout);
        let q = if statuses.is_empty() {
            json!({})
        } else {
            json!({"status": statuses.join(",")})
        };
        let f = Filter::parse(Family::PhoneCall, Some(&q));
        let calls = self.latest_phone_calls(parent, &f, limit).await?;
        let total = counts
            .iter()
            .filter(|(s, _)| statuses.is_empty() || statuses.contains(s))
            .map(|(_, n)| n)
            .sum();
        let events = {
            let mut conn = self.store().read().await?;
            store::events::latest(&mut conn, callout_id, 20).await?
        };
        // Outcomes per minute over the latest final calls (at most 500 of them).
        let done = json!({"status": crate::domain::status::PHONE_CALL_TERMINAL.join(",")});
        let df = Filter::parse(Family::PhoneCall, Some(&done));
        let finals = self.latest_phone_calls(parent, &df, 500).await?;
        let now = self.clock().now();
        let mut per_minute = vec![0u64; 30];
        for c in &finals {
            let Ok(t) = chrono::DateTime::parse_from_rfc3339(&c.updated_at) else {
                continue;
            };
            let age = (now - t.with_timezone(&chrono::Utc)).num_minutes();
            if (0..30).contains(&age) {
                per_minute[29 - age as usize] += 1;
            }
        }
        Ok(LiveCalls {
            counts,
            calls,
            total,
            events,
            outcomes_per_minute: per_minute,
            campaigns: self.campaigns_progress(callout_id).await?,
        })
    }

    /// Progress of `callout_id` (nothing if it does not exist), else of the running and paused
    /// callouts (the first 5 by id), each with its name.
    async fn campaigns_progress(&self, callout_id: Option<i64>) -> Result<Vec<(String, Progress)>> {
        let callouts = match callout_id {
            Some(id) => match self.callout(id).await {
                Ok(c) => vec![c],
                Err(Error::NotFound) => vec![],
                Err(e) => return Err(e),
            },
            None => {
                let q = json!({"status": "running,paused"});
                let f = Filter::parse(Family::Callout, Some(&q));
                self.callouts(None, &f, page(5)).await?.items
            }
        };
        let mut out = Vec::with_capacity(callouts.len());
        for c in callouts {
            let name = c.metadata.get("name").and_then(Value::as_str);
            let name = name.unwrap_or_default().to_string();
            out.push((name, self.callout_progress(c.id).await?));
        }
        Ok(out)
    }

    /// Callouts waiting for a second operator's approval (oldest first, at most `limit`), each
    /// with its count, areas and message: the TUI's approvals list.
    pub async fn approval_requests(&self, limit: i64) -> Result<Vec<ApprovalRequest>> {
        let callouts = {
            let mut conn = self.store().read().await?;
            store::callouts::awaiting_approval(&mut conn, limit).await?
        };
        let mut out = Vec::with_capacity(callouts.len());
        for c in callouts {
            out.push(self.approval_request(c).await?);
        }
        Ok(out)
    }

    async fn approval_request(&self, callout: Callout) -> Result<ApprovalRequest> {
        let participations = self.callout_people(callout.id).await?;
        let population = BatchType::CalloutPopulation.as_str();
        let ops = self
            .batch_operations(
                Some(callout.id),
                &[population],
                &Filter::empty(Family::BatchOperation),
                page(100),
            )
            .await?
            .items;
        let mut populations = Vec::with_capacity(ops.len());
        let mut people = participations;
        for op in ops {
            let n = self
                .preview_contacts(op.id, &Filter::empty(Family::Contact), page(1))
                .await?
                .total;
            // A population that ran has put its people in the callout already.
            if matches!(op.status.as_str(), "preview" | "queued" | "running") {
                people += n;
            }
            populations.push(PopulationCount {
                batch_operation_id: op.id,
                area: op
                    .metadata
                    .get("cap_area")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                filter: op
                    .parameters
                    .get("contact_filter_params")
                    .cloned()
                    .unwrap_or(Value::Null),
                status: op.status,
                people: n,
            });
        }
        let m = &callout.metadata;
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        let cap_areas = m
            .get("cap_areas")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let messages = m
            .get("messages")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(lang, t)| Some((lang.clone(), t.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ApprovalRequest {
            audio_url: text("audio_url"),
            message: text("message"),
            messages,
            cap_areas,
            participations,
            populations,
            people,
            callout,
        })
    }
}
