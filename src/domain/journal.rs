//! The tamper-evident journal's rules (issue 14): what an entry is, its canonical encoding, the
//! hash chain and the check of a whole journal. Pure; the store keeps the rows and the service
//! decides what is recorded.
//!
//! Each entry's `hash` is SHA-256 over the canonical encoding of its fields and the hash of the
//! entry before it (`prev_hash`; the first entry follows [`GENESIS`]). The encoding is each
//! field in a fixed order, as its length in bytes (8 bytes, big-endian) then its UTF-8 bytes, so
//! no two different entries encode alike (no separator can be forged inside a field). Changing
//! any field of any entry, removing one, or moving one changes a hash the next entry (or the
//! journal's head) still holds, and [`Verifier`] names the first entry where that shows.

use sha2::{Digest, Sha256};
use std::fmt;

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// When it was recorded (the service's clock, ISO 8601 UTC).
    pub at: String,
    /// Who: an operator's name, `api` (the shared API credential), `provider`, `scfm` (workers).
    pub actor: String,
    /// What, e.g. `callout.start`, `contact.create`, `provider.event`.
    pub action: String,
    /// Which record, e.g. `callout:12`, `phone_call:301`.
    pub subject: String,
    /// The callout it belongs to, when it belongs to one (for `journal export CALLOUT`).
    pub callout_id: Option<i64>,
    /// The particulars, as JSON text.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// An entry before it is chained: what the service records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub callout_id: Option<i64>,
    pub details: String,
}

impl NewEntry {
    /// The entry chained after `(prev_seq, prev_hash)`, recorded `at`.
    pub fn chain(self, prev_seq: i64, prev_hash: &str, at: &str) -> Entry {
        let mut e = Entry {
            seq: prev_seq + 1,
            at: at.to_string(),
            actor: self.actor,
            action: self.action,
            subject: self.subject,
            callout_id: self.callout_id,
            details: self.details,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        e.hash = hash(&e);
        e
    }
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The hash an entry must carry: SHA-256 (lowercase hex) over its canonical encoding (every
/// field but `hash` itself, `prev_hash` included). `callout_id` is encoded as its decimal text,
/// or the empty string when there is none.
pub fn hash(e: &Entry) -> String {
    let mut h = Sha256::new();
    field(&mut h, b"scfm-journal-1");
    field(&mut h, e.seq.to_string().as_bytes());
    field(&mut h, e.at.as_bytes());
    field(&mut h, e.actor.as_bytes());
    field(&mut h, e.action.as_bytes());
    field(&mut h, e.subject.as_bytes());
    let callout = e.callout_id.map(|c| c.to_string()).unwrap_or_default();
    field(&mut h, callout.as_bytes());
    field(&mut h, e.details.as_bytes());
    field(&mut h, e.prev_hash.as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// SHA-256 of `bytes`, lowercase hex (operator tokens are stored as this).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Where and why a journal stops verifying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The first entry that does not verify (for a missing tail: the first one missing).
    pub seq: i64,
    pub why: String,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}: {}", self.seq, self.why)
    }
}

/// Checks entries one by one in `seq` order (as the store streams them), then the head.
#[derive(Debug, Clone)]
pub struct Verifier {
    last_seq: i64,
    last_hash: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            last_seq: 0,
            last_hash: GENESIS.to_string(),
        }
    }
}

impl Verifier {
    /// Entries checked so far.
    pub fn checked(&self) -> i64 {
        self.last_seq
    }

    /// The hash of the last entry checked (GENESIS before any).
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    pub fn check(&mut self, e: &Entry) -> Result<(), Broken> {
        let expected = self.last_seq + 1;
        if e.seq != expected {
            return Err(Broken {
                seq: expected,
                why: if e.seq > expected {
                    format!(
                        "missing: the journal goes from entry {} to entry {} (entries removed)",
                        self.last_seq, e.seq
                    )
                } else {
                    format!(
                        "entry {} appears again after entry {}",
                        e.seq, self.last_seq
                    )
                },
            });
        }
        if hash(e) != e.hash {
            return Err(Broken {
                seq: e.seq,
                why: "its contents do not match its hash (changed after it was written)".into(),
            });
        }
        if e.prev_hash != self.last_hash {
            return Err(Broken {
                seq: e.seq,
                why: format!(
                    "it does not follow entry {} (entries removed, moved or rewritten before it)",
                    self.last_seq
                ),
            });
        }
        self.last_seq = e.seq;
        self.last_hash = e.hash.clone();
        Ok(())
    }

    /// After the last entry: the journal's head (the last entry's number and hash, kept apart
    /// by every append) must be the last entry checked, or entries were removed at the end.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Broken> {
        if head_seq != self.last_seq {
            return Err(Broken {
                seq: self.last_seq + 1,
                why: format!(
                    "the journal ends at entry {} but its head says {} entries were written",
                    self.last_seq, head_seq
                ),
            });
        }
        if head_hash != self.last_hash {
            return Err(Broken {
                seq: self.last_seq,
                why: "the journal's head holds another hash for its last entry".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn journal(n: i64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for i in 0..n {
            let (seq, prev) = out
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS.to_string()));
            out.push(
                NewEntry {
                    actor: "ana".into(),
                    action: "contact.create".into(),
                    subject: format!("contact:{i}"),
                    callout_id: (i % 2 == 0).then_some(7),
                    details: format!("{{\"i\":{i}}}"),
                }
                .chain(seq, &prev, "2026-12-04T01:00:00.000Z"),
            );
        }
        out
    }

    fn verify(entries: &[Entry], head: (i64, &str)) -> Result<i64, Broken> {
        let mut v = Verifier::default();
        for e in entries {
            v.check(e)?;
        }
        v.finish(head.0, head.1)?;
        Ok(v.checked())
    }

    #[test]
    fn an_untouched_journal_verifies() {
        let j = journal(50);
        let head = (50, j[49].hash.as_str());
        assert_eq!(verify(&j, head), Ok(50));
        assert_eq!(verify(&[], (0, GENESIS)), Ok(0));
    }

    #[test]
    fn the_encoding_keeps_fields_apart() {
        let a = &journal(1)[0];
        let mut b = a.clone();
        b.actor = "an".into();
        b.action = format!("a{}", a.action);
        assert_ne!(hash(a), hash(&b));
        let mut c = a.clone();
        c.callout_id = None;
        assert_ne!(hash(a), hash(&c));
    }

    #[test]
    fn an_edit_a_removal_a_move_and_a_cut_tail_are_each_named() {
        let j = journal(20);
        let head = (20, j[19].hash.clone());
        let mut edited = j.clone();
        edited[6].details = "{\"i\":600}".into();
        assert_eq!(verify(&edited, (20, &head.1)).unwrap_err().seq, 7);

        // Edited and re-hashed: the next entry no longer follows it.
        let mut rehashed = j.clone();
        rehashed[6].actor = "mallory".into();
        rehashed[6].hash = hash(&rehashed[6]);
        let err = verify(&rehashed, (20, &head.1)).unwrap_err();
        assert_eq!(err.seq, 8, "{err}");

        let mut removed = j.clone();
        removed.remove(11);
        let err = verify(&removed, (20, &head.1)).unwrap_err();
        assert_eq!(err.seq, 12, "{err}");
        assert!(err.why.contains("removed"), "{err}");

        // Two rows' contents swapped, numbers kept in order.
        let mut moved = j.clone();
        let (a, b) = (moved[3].clone(), moved[4].clone());
        moved[3] = Entry { seq: 4, ..b };
        moved[4] = Entry { seq: 5, ..a };
        assert_eq!(verify(&moved, (20, &head.1)).unwrap_err().seq, 4);

        let cut = &j[..18];
        let err = verify(cut, (20, &head.1)).unwrap_err();
        assert_eq!(err.seq, 19, "{err}");
    }
}
