//! Each account's stream of events (migration 0010): written by triggers for connections and
//! links, and by the service for alarm transitions; read in order of their sequence numbers.

use crate::sql::params;
use crate::{Db, StoreError};
use xc_types::{AccountId, ConnectionId};

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub seq: i64,
    pub account_id: String,
    pub at: i64,
    /// Its type's name (`connection.stateChange`, ...).
    pub kind: String,
    pub connection_id: Option<String>,
    /// JSON.
    pub detail: String,
}

impl Db<'_> {
    /// Records an event for `account`.
    pub fn insert_event(
        &self,
        account: &AccountId,
        at: i64,
        kind: &str,
        connection: Option<&ConnectionId>,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO account_events (account_id, at, type, connection_id, detail)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                account.as_str(),
                at,
                kind,
                connection.map(|c| c.as_str()),
                detail
            ],
        )?;
        Ok(())
    }

    /// Events after `after` (a sequence number) and at `since` or later, oldest first, at most
    /// `limit`: an account's, or every account's.
    pub fn events(
        &self,
        account: Option<&AccountId>,
        after: i64,
        since: i64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, account_id, at, type, connection_id, detail FROM account_events
             WHERE (account_id = ?1 OR ?1 IS NULL) AND seq > ?2 AND at >= ?3
             ORDER BY seq LIMIT ?4",
        )?;
        let rows = st.query_map(
            params![account.map(|a| a.as_str()), after, since, limit as i64],
            |r| {
                Ok(EventRecord {
                    seq: r.get(0)?,
                    account_id: r.get(1)?,
                    at: r.get(2)?,
                    kind: r.get(3)?,
                    connection_id: r.get(4)?,
                    detail: r.get(5)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest event's sequence number (0 without one).
    pub fn latest_event_seq(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT coalesce(max(seq), 0) FROM account_events",
            (),
            |r| r.get(0),
        )?)
    }

    /// Forgets the events before `before` (retention); answers how many.
    pub fn forget_events_before(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM account_events WHERE at < ?1", params![before])?)
    }
}
