//! CAP alerts in (issue 14): a CAP 1.2 alert and an area map become a **draft** callout (it
//! requires approval, nothing is dialled) with one CalloutPopulation preview per matched area
//! and its counts. An Update of an alert already drafted replaces the draft's message and
//! areas; a Cancel marks the draft cancelled; for a callout already running neither changes it:
//! the operator is told to stop it (never silently). Expired alerts, and alerts that are not
//! `Actual` or `Exercise`, are refused. Parsing and resolution are `domain::cap`'s.

use super::{BatchOperationInput, CalloutInput, Error, Result, Service};
use crate::domain::cap::{self, Alert, AreaMap, CapEnum, MsgType, Status};
use crate::domain::filter::{Family, Filter};
use crate::domain::metadata::MergeMode;
use crate::domain::sitrep::SITREP_BY;
use crate::domain::time::format_ts;
use crate::domain::{Callout, Page};
use crate::store;
use serde_json::{Map, Value, json};

/// One area of a draft: the map's name, its contacts now, its population preview.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftArea {
    pub name: String,
    pub people: i64,
    pub batch_operation_id: i64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub enum CapOutcome {
    /// A new draft (msgType Alert), or a draft replaced by an Update.
    Drafted {
        callout: Callout,
        areas: Vec<DraftArea>,
        /// Alert areas no map area matched: shown, never dropped silently.
        unmatched: Vec<String>,
        replaced: bool,
    },
    /// A Cancel of a draft: marked cancelled (its approval withdrawn), not dialled.
    Cancelled { callout: Callout },
    /// An Update or Cancel of callouts that are already dialling: nothing changed; the
    /// operator decides (stop them, or let them run).
    AskToStop {
        callouts: Vec<Callout>,
        msg_type: String,
    },
}

/// Reads an alert from a file or an http(s) URL, refusing more than `MAX_CAP_BYTES`. Used by
/// `scfm cap import` and the TUI's `:cap`; the error says what could not be read and why.
pub async fn read_alert(source: &str) -> std::result::Result<String, String> {
    let too_big = || format!("{source}: larger than {} bytes", cap::MAX_CAP_BYTES);
    if source.starts_with("http://") || source.starts_with("https://") {
        let fetch = async {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()?;
            let r = client.get(source).send().await?.error_for_status()?;
            if r.content_length()
                .is_some_and(|n| n > cap::MAX_CAP_BYTES as u64)
            {
                return Ok(None);
            }
            r.bytes().await.map(Some)
        };
        let bytes = fetch
            .await
            .map_err(|e: reqwest::Error| format!("cannot read {source}: {e}"))?
            .ok_or_else(too_big)?;
        if bytes.len() > cap::MAX_CAP_BYTES {
            return Err(too_big());
        }
        return String::from_utf8(bytes.to_vec()).map_err(|e| format!("cannot read {source}: {e}"));
    }
    let cannot = |e: std::io::Error| format!("cannot read {source}: {e}");
    let meta = tokio::fs::metadata(source).await.map_err(cannot)?;
    if meta.len() > cap::MAX_CAP_BYTES as u64 {
        return Err(too_big());
    }
    tokio::fs::read_to_string(source).await.map_err(cannot)
}

/// Reads and checks an area map file; the error names the file (and the line, from the parser).
pub async fn read_area_map(path: &std::path::Path) -> std::result::Result<AreaMap, String> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("area map {}: {e}", path.display()))?;
    cap::parse_area_map(&text).map_err(|e| format!("area map {}: {e}", path.display()))
}

/// The flow a CAP draft plays: the callout's `audio_url`, else `<Say>` of its `message`.
const PLAY: &str = "CallFlowLogic::PlayMessage";

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid("cap", &message.into())
}

/// A draft's metadata, its (area name, contact metadata filter) pairs, the unmatched areas.
type Draft = (
    Map<String, Value>,
    Vec<(String, Map<String, Value>)>,
    Vec<String>,
);

/// The callout's metadata from an alert: what PlayMessage plays or says, and where it came from.
fn draft_metadata(
    alert: &Alert,
    map: &AreaMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Draft> {
    let resolution = map.resolve_at(alert, now);
    let Some(first) = resolution.infos.first() else {
        return Err(invalid("the alert has no current <info> to say"));
    };
    let info = &alert.infos[first.info_index];
    let mut meta = Map::new();
    let name = info.headline.clone().unwrap_or_else(|| info.event.clone());
    meta.insert("name".into(), json!(name));
    meta.insert("message".into(), json!(first.say_text));
    if let Some(url) = first.voice.as_ref().and_then(|v| v.audio_url.clone()) {
        meta.insert("audio_url".into(), json!(url));
    }
    let language = first
        .voice
        .as_ref()
        .and_then(|v| v.say_language.clone())
        .unwrap_or_else(|| first.language.clone());
    meta.insert("language".into(), json!(language));
    let mut texts = Map::new();
    for plan in &resolution.infos {
        texts.insert(plan.language.clone(), json!(plan.say_text));
    }
    meta.insert("messages".into(), Value::Object(texts));
    meta.insert("cap_identifier".into(), json!(alert.identifier));
    meta.insert("cap_sender".into(), json!(alert.sender));
    meta.insert("cap_sent".into(), json!(alert.sent.to_rfc3339()));
    meta.insert("cap_status".into(), json!(alert.status.as_str()));
    meta.insert("cap_msg_type".into(), json!(alert.msg_type.as_str()));
    if let Some(expires) = info.expires {
        meta.insert("cap_expires".into(), json!(expires.to_rfc3339()));
    }
    // The situation report groups this callout's figures the way the map groups its areas.
    if let Some(by) = &map.group_by {
        meta.insert(SITREP_BY.into(), json!(by));
    }
    let areas: Vec<(String, Map<String, Value>)> = resolution
        .areas
        .iter()
        .map(|a| (a.name.clone(), a.contacts.clone()))
        .collect();
    meta.insert(
        "cap_areas".into(),
        json!(areas.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()),
    );
    let unmatched: Vec<String> = resolution
        .unmatched
        .iter()
        .map(|u| u.area_desc.clone())
        .collect();
    Ok((meta, areas, unmatched))
}

impl Service {
    /// Reads one CAP alert (`xml`) through `map`; see the module comment.
    pub async fn import_cap(&self, xml: &str, map: &AreaMap) -> Result<CapOutcome> {
        let alert = cap::parse_alert(xml).map_err(|e| invalid(e.to_string()))?;
        self.import_alert(&alert, map).await
    }

    /// Drafts (or updates, or cancels) from an alert already parsed (a feed's embedded one).
    pub async fn import_alert(&self, alert: &Alert, map: &AreaMap) -> Result<CapOutcome> {
        let now = self.clock().now();
        alert
            .check_not_expired(now)
            .map_err(|e| invalid(e.to_string()))?;
        if !matches!(alert.status, Status::Actual | Status::Exercise) {
            return Err(invalid(format!(
                "status {} alerts are not drafted (only Actual and Exercise)",
                alert.status.as_str()
            )));
        }
        if !matches!(
            alert.msg_type,
            MsgType::Alert | MsgType::Update | MsgType::Cancel
        ) {
            return Err(invalid(format!(
                "msgType {} carries no warning to call out",
                alert.msg_type.as_str()
            )));
        }
        // Take the message first: of two imports racing on one alert, one drafts it.
        if !self.take_alert(alert, true).await? {
            return Err(invalid(format!(
                "{} {} from {} was imported already",
                alert.msg_type.as_str(),
                alert.identifier,
                alert.sender
            )));
        }
        let result = match alert.msg_type {
            MsgType::Alert => self.draft(alert, map, None).await,
            _ => self.follow_up(alert, map).await,
        };
        let mut tx = self.store().write().await?;
        match &result {
            Ok(CapOutcome::Drafted { callout, .. } | CapOutcome::Cancelled { callout }) => {
                store::cap_alerts::done(&mut tx, &alert.sender, &alert.identifier, callout.id)
                    .await?
            }
            // Refused, or only asking the operator: it may be imported again later.
            Ok(CapOutcome::AskToStop { .. }) | Err(_) => {
                store::cap_alerts::release(&mut tx, &alert.sender, &alert.identifier).await?
            }
        }
        tx.commit().await.map_err(store::StoreError::from)?;
        result
    }

    /// Takes `alert` in the import ledger; false when it was taken already. With `retake`, a
    /// message whose draft was deleted, or whose import was cut off over five minutes ago, is
    /// taken again.
    async fn take_alert(&self, alert: &Alert, retake: bool) -> Result<bool> {
        let now = self.clock().now();
        let stale = retake.then(|| format_ts(now - chrono::Duration::minutes(5)));
        let mut tx = self.store().write().await?;
        let taken = store::cap_alerts::take(
            &mut tx,
            &alert.sender,
            &alert.identifier,
            alert.msg_type.as_str(),
            &format_ts(now),
            stale.as_deref(),
        )
        .await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(taken)
    }

    /// Whether message `identifier` of `sender` is in the import ledger, and how.
    pub(super) async fn taken_alert(
        &self,
        sender: &str,
        identifier: &str,
    ) -> Result<Option<store::cap_alerts::Taken>> {
        let mut conn = self.store().read().await?;
        Ok(store::cap_alerts::find(&mut conn, sender, identifier).await?)
    }

    /// The callouts an Update or Cancel refers to: through the ledger (which follows a draft
    /// through its earlier updates), else by the identifier a draft carries.
    async fn referred(&self, alert: &Alert) -> Result<Vec<Callout>> {
        let mut found: Vec<Callout> = Vec::new();
        for r in &alert.references {
            let by_ledger = match self.taken_alert(&r.sender, &r.identifier).await? {
                Some(store::cap_alerts::Taken {
                    callout_id: Some(id),
                    ..
                }) => match self.callout(id).await {
                    Ok(c) => vec![c],
                    Err(Error::NotFound) => vec![],
                    Err(e) => return Err(e),
                },
                _ => vec![],
            };
            let more = if by_ledger.is_empty() {
                self.drafts_of(&r.sender, &r.identifier).await?
            } else {
                by_ledger
            };
            for c in more {
                if !found.iter().any(|f| f.id == c.id) {
                    found.push(c);
                }
            }
        }
        Ok(found)
    }

    /// Callouts drafted from alert `identifier` of `sender`.
    pub(super) async fn drafts_of(&self, sender: &str, identifier: &str) -> Result<Vec<Callout>> {
        let f = Filter::parse(
            Family::Callout,
            Some(&json!({"metadata": {"cap_identifier": identifier, "cap_sender": sender}})),
        );
        let page = Page {
            page: 1,
            per_page: 100,
        };
        Ok(self.callouts(None, &f, page).await?.items)
    }

    async fn draft(
        &self,
        alert: &Alert,
        map: &AreaMap,
        replace: Option<&Callout>,
    ) -> Result<CapOutcome> {
        if !self.registry().is_registered(PLAY) {
            return Err(invalid(format!(
                "drafts play the alert with {PLAY}: add it to REGISTERED_CALL_FLOW_LOGIC"
            )));
        }
        let (meta, areas, unmatched) = draft_metadata(alert, map, self.clock().now())?;
        let callout = match replace {
            None => {
                self.create_callout(CalloutInput {
                    call_flow_logic: Some(Some(PLAY.into())),
                    metadata: Some(meta),
                    merge_mode: MergeMode::Merge,
                    dialing: None,
                    requires_approval: Some(true),
                })
                .await?
            }
            Some(old) => {
                // The update's message and areas replace the draft's; its unrun previews go.
                for op in self
                    .batch_operations(
                        Some(old.id),
                        &[],
                        &Filter::empty(Family::BatchOperation),
                        Page {
                            page: 1,
                            per_page: 100,
                        },
                    )
                    .await?
                    .items
                {
                    if op.status == "preview" {
                        self.delete_batch_operation(op.id, &[]).await?;
                    }
                }
                self.update_callout(
                    old.id,
                    CalloutInput {
                        metadata: Some(meta),
                        merge_mode: MergeMode::Merge,
                        requires_approval: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
                self.callout(old.id).await?
            }
        };
        let mut out = Vec::with_capacity(areas.len());
        for (name, contacts) in areas {
            let filter = json!({"metadata": Value::Object(contacts)});
            let people = self
                .count_contacts(&Filter::parse(Family::Contact, Some(&filter)))
                .await?;
            let mut params = Map::new();
            params.insert("contact_filter_params".into(), filter);
            let mut op_meta = Map::new();
            op_meta.insert("cap_area".into(), json!(name));
            let op = self
                .create_batch_operation(
                    BatchOperationInput {
                        kind: Some("BatchOperation::CalloutPopulation".into()),
                        callout_id: Some(callout.id),
                        parameters: Some(params),
                        metadata: Some(op_meta),
                        ..Default::default()
                    },
                    true,
                )
                .await?;
            out.push(DraftArea {
                name,
                people,
                batch_operation_id: op.id,
            });
        }
        Ok(CapOutcome::Drafted {
            callout,
            areas: out,
            unmatched,
            replaced: replace.is_some(),
        })
    }

    async fn follow_up(&self, alert: &Alert, map: &AreaMap) -> Result<CapOutcome> {
        let found = self.referred(alert).await?;
        if found.is_empty() {
            return Err(invalid(format!(
                "{} {} refers to no alert imported here ({} reference(s))",
                alert.msg_type.as_str(),
                alert.identifier,
                alert.references.len()
            )));
        }
        let dialling: Vec<Callout> = found
            .iter()
            .filter(|c| c.status != "initialized")
            .cloned()
            .collect();
        if !dialling.is_empty() {
            return Ok(CapOutcome::AskToStop {
                callouts: dialling,
                msg_type: alert.msg_type.as_str().into(),
            });
        }
        let draft = &found[0];
        if alert.msg_type == MsgType::Cancel {
            let mut meta = Map::new();
            meta.insert("cap_msg_type".into(), json!("Cancel"));
            meta.insert("cap_cancelled_by".into(), json!(alert.identifier));
            self.update_callout(
                draft.id,
                CalloutInput {
                    metadata: Some(meta),
                    merge_mode: MergeMode::Merge,
                    ..Default::default()
                },
            )
            .await?;
            return Ok(CapOutcome::Cancelled {
                callout: self.callout(draft.id).await?,
            });
        }
        self.draft(alert, map, Some(draft)).await
    }
}
