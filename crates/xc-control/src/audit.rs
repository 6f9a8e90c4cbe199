//! The audit trail's chain, pure: a record's hash is SHA-256 over the previous record's hash (32
//! zero bytes before the first) and the record's fields, each as a 4-byte big-endian length and
//! its bytes (an absent field as the length 0xFFFFFFFF), in the order of [`fields`]. Checking
//! walks the records in order from the anchor and names the first that does not follow.

use sha2::{Digest, Sha256};
use xc_store::AuditRow;
use xc_types::api::audit::{AuditBreak, AuditBreakKind};

/// The hash before the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The fields a record's hash covers, in order (everything but the hash itself).
fn fields(r: &AuditRow) -> [Option<Vec<u8>>; 12] {
    let text = |s: &str| Some(s.as_bytes().to_vec());
    let opt = |s: &Option<String>| s.as_ref().map(|s| s.as_bytes().to_vec());
    [
        Some(r.seq.to_be_bytes().to_vec()),
        Some(r.at_ms.to_be_bytes().to_vec()),
        text(&r.account_id),
        opt(&r.access_key),
        text(&r.principal),
        opt(&r.source),
        opt(&r.user_agent),
        text(&r.operation),
        opt(&r.resource),
        text(&r.outcome),
        opt(&r.error_code),
        text(&r.request_id),
    ]
}

/// The hash of `r` after a record whose hash is `prev`.
pub fn chain_hash(prev: &[u8], r: &AuditRow) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    for f in fields(r) {
        match f {
            Some(b) => {
                h.update(u32::try_from(b.len()).unwrap_or(u32::MAX - 1).to_be_bytes());
                h.update(&b);
            }
            None => h.update(u32::MAX.to_be_bytes()),
        }
    }
    h.finalize().to_vec()
}

/// A check of the chain, fed the records in order a page at a time.
#[derive(Debug)]
pub struct Walk {
    prev_seq: i64,
    prev_hash: Vec<u8>,
    pub checked: u64,
    pub first_seq: Option<i64>,
    pub first_break: Option<AuditBreak>,
}

impl Walk {
    /// From the anchor (the last record retention removed), or from the start.
    pub fn new(anchor: Option<(i64, Vec<u8>)>) -> Self {
        let (prev_seq, prev_hash) = anchor.unwrap_or((0, GENESIS.to_vec()));
        Self {
            prev_seq,
            prev_hash,
            checked: 0,
            first_seq: None,
            first_break: None,
        }
    }

    /// The last record's number (the anchor's before any).
    pub fn last_seq(&self) -> i64 {
        self.prev_seq
    }

    /// The last record's hash.
    pub fn last_hash(&self) -> &[u8] {
        &self.prev_hash
    }

    /// Checks the next record; the first break found is kept, and the walk goes on from the
    /// record as stored (so one edit is one break, not every record after it).
    pub fn next(&mut self, r: &AuditRow) {
        self.checked += 1;
        self.first_seq.get_or_insert(r.seq);
        if self.first_break.is_none() {
            let seq = u64::try_from(r.seq).unwrap_or(0);
            if r.seq != self.prev_seq + 1 {
                self.first_break = Some(AuditBreak {
                    seq,
                    kind: AuditBreakKind::Missing,
                    message: format!(
                        "record {} follows record {}: {} record(s) between them are missing",
                        r.seq,
                        self.prev_seq,
                        r.seq - self.prev_seq - 1
                    ),
                });
            } else if chain_hash(&self.prev_hash, r) != r.hash {
                self.first_break = Some(AuditBreak {
                    seq,
                    kind: AuditBreakKind::Edited,
                    message: format!(
                        "record {}'s fields do not give its hash: it was edited after it was written",
                        r.seq
                    ),
                });
            }
        }
        self.prev_seq = r.seq;
        self.prev_hash = r.hash.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, prev: &[u8]) -> AuditRow {
        let mut r = AuditRow {
            seq,
            at_ms: 1_700_000_000_000 + seq,
            account_id: "111122223333".into(),
            access_key: Some("AKIAEXAMPLE".into()),
            principal: "access-key".into(),
            source: Some("127.0.0.1".into()),
            user_agent: None,
            operation: "GetConnection".into(),
            resource: None,
            outcome: "success".into(),
            error_code: None,
            request_id: format!("req-{seq}"),
            hash: Vec::new(),
        };
        r.hash = chain_hash(prev, &r);
        r
    }

    fn trail(n: i64) -> Vec<AuditRow> {
        let mut out: Vec<AuditRow> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map_or(GENESIS.to_vec(), |r| r.hash.clone());
            out.push(record(seq, &prev));
        }
        out
    }

    fn walk(anchor: Option<(i64, Vec<u8>)>, rows: &[AuditRow]) -> Walk {
        let mut w = Walk::new(anchor);
        for r in rows {
            w.next(r);
        }
        w
    }

    #[test]
    fn an_untouched_trail_is_intact() {
        let rows = trail(5);
        let w = walk(None, &rows);
        assert_eq!((w.checked, w.first_seq, w.last_seq()), (5, Some(1), 5));
        assert!(w.first_break.is_none());
        assert_eq!(w.last_hash(), &rows[4].hash[..]);
    }

    #[test]
    fn an_edited_field_breaks_at_its_record_only() {
        let mut rows = trail(5);
        rows[2].outcome = "denied".into();
        let b = walk(None, &rows).first_break.expect("a break");
        assert_eq!((b.seq, b.kind), (3, AuditBreakKind::Edited));
        // An absent field is not the same as an empty one.
        let mut rows = trail(3);
        rows[1].user_agent = Some(String::new());
        let b = walk(None, &rows).first_break.expect("a break");
        assert_eq!((b.seq, b.kind), (2, AuditBreakKind::Edited));
    }

    #[test]
    fn a_rewritten_hash_breaks_the_next_record() {
        let mut rows = trail(4);
        rows[1].operation = "DeleteConnection".into();
        rows[1].hash = chain_hash(&rows[0].hash, &rows[1]);
        let b = walk(None, &rows).first_break.expect("a break");
        assert_eq!((b.seq, b.kind), (3, AuditBreakKind::Edited));
    }

    #[test]
    fn a_deleted_record_is_missing() {
        let mut rows = trail(5);
        rows.remove(3);
        let b = walk(None, &rows).first_break.expect("a break");
        assert_eq!((b.seq, b.kind), (5, AuditBreakKind::Missing));
        // The first record deleted, with no anchor: missing too.
        let rows = trail(3);
        let b = walk(None, &rows[1..]).first_break.expect("a break");
        assert_eq!((b.seq, b.kind), (2, AuditBreakKind::Missing));
    }

    #[test]
    fn retention_starts_the_check_at_its_anchor() {
        let rows = trail(6);
        let anchor = Some((3, rows[2].hash.clone()));
        let w = walk(anchor.clone(), &rows[3..]);
        assert!(w.first_break.is_none(), "{:?}", w.first_break);
        assert_eq!((w.checked, w.first_seq), (3, Some(4)));
        // A forged anchor does not fit the records after it.
        let w = walk(Some((3, GENESIS.to_vec())), &rows[3..]);
        assert_eq!(w.first_break.map(|b| b.seq), Some(4));
    }
}
