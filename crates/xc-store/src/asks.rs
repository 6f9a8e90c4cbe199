//! What one replica asks of a gateway that another replica may be serving (migration 0023): a
//! connectivity test or a filter dry run. The asker puts the request ([`Db::put_ask`]); whichever
//! replica holds the gateway's blocking query hands it over once ([`Db::take_asks`]); whichever
//! replica the gateway answers records the answer ([`Db::answer_ask`]); the asker reads it and
//! deletes the row ([`Db::drop_ask`]).

use crate::StoreError;
use crate::db::Db;
use crate::sql::{OptionalExtension, params};

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskKind {
    /// A connectivity test (`TestRequest`).
    Test,
    /// A filter dry run (`DryRunRequest`).
    DryRun,
}

impl AskKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::DryRun => "dry_run",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "test" => Ok(Self::Test),
            "dry_run" => Ok(Self::DryRun),
            other => Err(StoreError::Corrupt(format!("unknown ask kind `{other}`"))),
        }
    }
}

/// A request waiting for its gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskRow {
    pub id: String,
    pub kind: AskKind,
    /// JSON, as the gateway is handed it.
    pub request: String,
}

impl Db<'_> {
    /// Puts a request for `gateway_id`, good until `expires_ms`; deletes what expired.
    pub fn put_ask(
        &self,
        id: &str,
        gateway_id: &str,
        kind: AskKind,
        request: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM gateway_asks WHERE expires_ms < ?1", [now_ms])?;
        self.conn.execute(
            "INSERT INTO gateway_asks (id, gateway_id, kind, request, expires_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, gateway_id, kind.as_str(), request, expires_ms],
        )?;
        Ok(())
    }

    /// Whether requests wait for `gateway_id` (a cheap look before [`Db::take_asks`]).
    pub fn asks_waiting(&self, gateway_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM gateway_asks WHERE gateway_id = ?1 AND taken_ms IS NULL \
                 AND expires_ms >= ?2 LIMIT 1",
                params![gateway_id, now_ms],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The requests waiting for `gateway_id`, marked handed over: each is taken once.
    pub fn take_asks(&self, gateway_id: &str, now_ms: i64) -> Result<Vec<AskRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "UPDATE gateway_asks SET taken_ms = ?2 WHERE gateway_id = ?1 AND taken_ms IS NULL \
             AND expires_ms >= ?2 RETURNING id, kind, request",
        )?;
        let rows = st.query_map(params![gateway_id, now_ms], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })?;
        let mut taken = Vec::new();
        for row in rows {
            let (id, kind, request) = row?;
            taken.push(AskRow {
                id,
                kind: AskKind::parse(&kind)?,
                request,
            });
        }
        taken.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(taken)
    }

    /// Records `gateway_id`'s answer to request `id`; whether it was asked that.
    pub fn answer_ask(&self, id: &str, gateway_id: &str, answer: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE gateway_asks SET answer = ?3 WHERE id = ?1 AND gateway_id = ?2",
            params![id, gateway_id, answer],
        )? == 1)
    }

    /// The answer to request `id`, once there is one.
    pub fn ask_answer(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT answer FROM gateway_asks WHERE id = ?1", [id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }

    pub fn drop_ask(&self, id: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM gateway_asks WHERE id = ?1", [id])?;
        Ok(())
    }
}
