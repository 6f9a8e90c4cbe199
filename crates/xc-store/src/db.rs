//! Typed queries over one SQLite connection (a read connection or the writer's transaction).

use crate::StoreError;
use crate::sql::{OptionalExtension, Row, params};
use xc_types::*;

/// A connection to the database, handed to the closures of [`crate::Store::read`] and
/// [`crate::Store::write`].
#[derive(Debug)]
pub struct Db<'a> {
    pub(crate) conn: crate::sql::Conn<'a>,
}

/// One page of results and whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The `seq` of the last item, when there are more items after it.
    pub more_after: Option<i64>,
}

/// Which connections a list returns. `visible_to: None` lists every account's (operator).
#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    pub visible_to: Option<AccountId>,
    pub state: Option<ConnectionState>,
    /// Only connections in one of these environments.
    pub environments: Option<Vec<EnvironmentId>>,
    pub attach_point: Option<AttachPointId>,
    /// `deleted` connections last updated before this time are no longer listed.
    pub hide_deleted_before: i64,
}

#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub request_hash: Vec<u8>,
    pub response: String,
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn parse<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A stored reason: its code (checked) and message.
fn stored_reason(
    code: Option<String>,
    message: Option<String>,
) -> Result<Option<StateReason>, StoreError> {
    match (code, message) {
        (Some(code), Some(message)) => Ok(Some(StateReason {
            code: parse(StateReasonCode::parse(&code), "reason code")?,
            message,
        })),
        _ => Ok(None),
    }
}

pub(crate) fn map_duplicate(e: crate::sql::Error, what: &'static str) -> StoreError {
    if e.is_constraint() {
        StoreError::Duplicate(what)
    } else {
        e.into()
    }
}

pub(crate) fn enum_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(crate) fn enum_parse<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &str,
) -> Result<T, StoreError> {
    parse(
        serde_json::from_value(serde_json::Value::String(s.to_owned())),
        what,
    )
}

const CONNECTION_COLUMNS: &str = "seq, id, shared_id, owner, owner_attach_point, owner_routing, \
    remote_allowed, remote_account, remote_attach_point, remote_routing, initiator, environment, \
    bandwidth_mbps, pending_bandwidth_mbps, description, state, reason_code, reason_message, \
    billing_tier, key_id, key_expires_at, tags, created_at, updated_at, last_mile, link_liveness";

const PROPOSAL_COLUMNS: &str = "id, shared_id, owner, attach_point, routing, environment, \
    bandwidth_mbps, description, allowed, key_id, expires_at, state, connection_id, created_at";

impl<'a> Db<'a> {
    pub(crate) fn new(conn: crate::sql::Conn<'a>) -> Self {
        Self { conn }
    }

    /// The SQLite connection itself, for the store's own tests.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> &rusqlite::Connection {
        self.conn.as_sqlite()
    }

    /// The connection, for the store's own tests.
    #[cfg(test)]
    pub(crate) fn sql(&self) -> crate::sql::Conn<'a> {
        self.conn
    }

    // ---- meta ----

    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    // ---- accounts and keys ----

    pub fn insert_account(&self, a: &Account) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO accounts (id, name, kind, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    a.account_id.as_str(),
                    a.name,
                    enum_str(&a.kind),
                    a.created_at
                ],
            )
            .map_err(|e| map_duplicate(e, "account name or id"))?;
        Ok(())
    }

    fn account_row(r: &Row<'_>) -> crate::sql::Result<(String, String, String, i64)> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    }

    fn account_from(row: (String, String, String, i64)) -> Result<Account, StoreError> {
        Ok(Account {
            account_id: parse(AccountId::parse(&row.0), "account id")?,
            name: row.1,
            kind: enum_parse(&row.2, "account kind")?,
            created_at: row.3,
        })
    }

    pub fn get_account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, name, kind, created_at FROM accounts WHERE id = ?1",
                [id.as_str()],
                Self::account_row,
            )
            .optional()?
            .map(Self::account_from)
            .transpose()
    }

    pub fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, name, kind, created_at FROM accounts ORDER BY id")?;
        let rows = st.query_map((), Self::account_row)?;
        rows.map(|r| Self::account_from(r?)).collect()
    }

    pub fn insert_access_key(&self, k: &AccessKey, secret_sealed: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO access_keys (id, account_id, secret_sealed, role, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    k.access_key_id.as_str(),
                    k.account_id.as_str(),
                    secret_sealed,
                    enum_str(&k.role),
                    enum_str(&k.status),
                    k.created_at
                ],
            )
            .map_err(|e| map_duplicate(e, "access key id"))?;
        Ok(())
    }

    fn key_from(r: &Row<'_>) -> crate::sql::Result<(String, String, String, String, i64, Vec<u8>)> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    }

    fn key_parse(
        row: (String, String, String, String, i64, Vec<u8>),
    ) -> Result<(AccessKey, Vec<u8>), StoreError> {
        Ok((
            AccessKey {
                access_key_id: parse(AccessKeyId::parse(&row.0), "access key id")?,
                account_id: parse(AccountId::parse(&row.1), "account id")?,
                role: enum_parse(&row.2, "key role")?,
                status: enum_parse(&row.3, "key status")?,
                created_at: row.4,
            },
            row.5,
        ))
    }

    /// The key's metadata and its sealed secret.
    pub fn get_access_key(&self, id: &str) -> Result<Option<(AccessKey, Vec<u8>)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, account_id, role, status, created_at, secret_sealed FROM access_keys WHERE id = ?1",
        )?;
        st.query_row([id], Self::key_from)
            .optional()?
            .map(Self::key_parse)
            .transpose()
    }

    pub fn list_access_keys(&self, account: &AccountId) -> Result<Vec<AccessKey>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, account_id, role, status, created_at, secret_sealed FROM access_keys WHERE account_id = ?1 ORDER BY created_at, id",
        )?;
        let rows = st.query_map([account.as_str()], Self::key_from)?;
        rows.map(|r| Self::key_parse(r?).map(|(k, _)| k)).collect()
    }

    pub fn set_access_key_status(
        &self,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE access_keys SET status = ?2 WHERE id = ?1",
            params![id.as_str(), enum_str(&status)],
        )? == 1)
    }

    pub fn delete_access_key(&self, id: &AccessKeyId) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM access_keys WHERE id = ?1", [id.as_str()])?
            == 1)
    }

    // ---- console sessions ----

    pub fn insert_console_session(
        &self,
        token_hash: &[u8],
        key: &AccessKeyId,
        created_at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO console_sessions (token_hash, access_key_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, key.as_str(), created_at, expires_at],
        )?;
        Ok(())
    }

    /// The key of an unexpired session.
    pub fn console_session(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<AccessKeyId>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT access_key_id FROM console_sessions WHERE token_hash = ?1 AND expires_at > ?2",
        )?;
        let id: Option<String> = st
            .query_row(params![token_hash, now], |r| r.get(0))
            .optional()?;
        id.map(|id| parse(AccessKeyId::parse(&id), "access key id"))
            .transpose()
    }

    pub fn delete_console_session(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM console_sessions WHERE token_hash = ?1",
            [token_hash],
        )? == 1)
    }

    pub fn expire_console_sessions(&self, now: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM console_sessions WHERE expires_at <= ?1", [now])?)
    }

    // ---- attach points ----

    /// The lowest ASN of `range` above every attach point's that lies in it (or, once the top
    /// is reached, the lowest no attach point has), or `None` when every one is taken.
    pub fn free_asn(
        &self,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Option<u32>, StoreError> {
        let (lo, hi) = (i64::from(*range.start()), i64::from(*range.end()));
        let top: Option<i64> = self.conn.query_row(
            "SELECT MAX(asn) FROM attach_points WHERE asn BETWEEN ?1 AND ?2",
            params![lo, hi],
            |r| r.get(0),
        )?;
        match top {
            None => return Ok(Some(*range.start())),
            Some(t) if t < hi => return Ok(u32::try_from(t + 1).ok()),
            Some(_) => {}
        }
        // The top is taken: the first gap from the bottom.
        let gap: Option<i64> = self.conn.query_row(
            "SELECT MIN(a.asn + 1) FROM attach_points a WHERE a.asn BETWEEN ?1 AND ?2 - 1 \
             AND NOT EXISTS (SELECT 1 FROM attach_points b WHERE b.asn = a.asn + 1)",
            params![lo, hi],
            |r| r.get(0),
        )?;
        let lowest_taken: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM attach_points WHERE asn = ?1)",
            [lo],
            |r| r.get(0),
        )?;
        Ok(if !lowest_taken {
            Some(*range.start())
        } else {
            gap.and_then(|g| u32::try_from(g).ok())
        })
    }

    pub fn insert_attach_point(&self, ap: &AttachPoint) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO attach_points (id, account_id, name, asn, prefixes, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    ap.id.to_string(),
                    ap.account_id.as_str(),
                    ap.name,
                    ap.asn.get(),
                    json(&ap.prefixes),
                    ap.created_at,
                    ap.updated_at
                ],
            )
            .map_err(|e| map_duplicate(e, "attach point id"))?;
        Ok(())
    }

    pub fn update_attach_point(&self, ap: &AttachPoint) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE attach_points SET name = ?2, prefixes = ?3, updated_at = ?4 WHERE id = ?1",
            params![
                ap.id.to_string(),
                ap.name,
                json(&ap.prefixes),
                ap.updated_at
            ],
        )?;
        Ok(())
    }

    pub fn delete_attach_point(&self, id: &AttachPointId) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM attach_points WHERE id = ?1", [id.to_string()])?;
        Ok(())
    }

    fn attach_point_row(r: &Row<'_>) -> crate::sql::Result<Result<(i64, AttachPoint), StoreError>> {
        let seq: i64 = r.get(0)?;
        let (id, account, name): (String, String, String) = (r.get(1)?, r.get(2)?, r.get(3)?);
        let (asn, prefixes): (i64, String) = (r.get(4)?, r.get(5)?);
        let (created_at, updated_at): (i64, i64) = (r.get(6)?, r.get(7)?);
        Ok((|| {
            Ok((
                seq,
                AttachPoint {
                    id: parse(AttachPointId::parse(&id), "attach point id")?,
                    account_id: parse(AccountId::parse(&account), "account id")?,
                    name,
                    asn: parse(Asn::new(asn as u64), "asn")?,
                    prefixes: from_json(&prefixes, "prefixes")?,
                    created_at,
                    updated_at,
                },
            ))
        })())
    }

    pub fn get_attach_point(&self, id: &AttachPointId) -> Result<Option<AttachPoint>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, id, account_id, name, asn, prefixes, created_at, updated_at FROM attach_points WHERE id = ?1",
        )?;
        st.query_row([id.to_string()], Self::attach_point_row)
            .optional()?
            .transpose()
            .map(|r| r.map(|(_, ap)| ap))
    }

    /// Every attach point, of every account (the reconciler's snapshot reads them at once rather
    /// than one query per connection).
    pub fn all_attach_points(&self) -> Result<Vec<AttachPoint>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, id, account_id, name, asn, prefixes, created_at, updated_at FROM attach_points ORDER BY seq",
        )?;
        let rows = st.query_map((), Self::attach_point_row)?;
        rows.map(|r| r?.map(|(_, ap)| ap)).collect()
    }

    /// One account's attach points in creation order, after `after_seq`, at most `limit`.
    pub fn list_attach_points(
        &self,
        account: &AccountId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Page<AttachPoint>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, id, account_id, name, asn, prefixes, created_at, updated_at FROM attach_points \
             WHERE account_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = st.query_map(
            params![account.as_str(), after_seq, limit as i64 + 1],
            Self::attach_point_row,
        )?;
        let items: Vec<(i64, AttachPoint)> = rows.map(|r| r?).collect::<Result<_, _>>()?;
        Ok(paginate(items, limit))
    }

    /// Whether any connection that is not deleted uses the attach point (on either side).
    pub fn attach_point_in_use(&self, id: &AttachPointId) -> Result<Option<String>, StoreError> {
        let id_s = id.to_string();
        let found: Option<String> = self
            .conn
            .query_row(
                "SELECT id FROM connections WHERE (owner_attach_point = ?1 OR remote_attach_point = ?1) \
                 AND state != 'deleted' LIMIT 1",
                [&id_s],
                |r| r.get(0),
            )
            .optional()?;
        let found = match found {
            Some(f) => Some(f),
            None => self
                .conn
                .query_row(
                    "SELECT id FROM proposals WHERE attach_point = ?1 AND state = 'open' LIMIT 1",
                    [&id_s],
                    |r| r.get(0),
                )
                .optional()?,
        };
        Ok(found)
    }

    /// Live connections (not deleted) that use the attach point, for prefix overlap checks.
    pub fn connections_of_attach_point(
        &self,
        id: &AttachPointId,
    ) -> Result<Vec<Connection>, StoreError> {
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE (owner_attach_point = ?1 OR remote_attach_point = ?1) \
             AND state NOT IN ('deleted', 'deleting')"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([id.to_string()], connection_row)?;
        rows.map(|r| r?).collect()
    }

    // ---- connections ----

    /// Inserts a new connection; returns its `seq`.
    pub fn insert_connection(&self, c: &Connection) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO connections ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25) RETURNING seq",
                &CONNECTION_COLUMNS["seq, ".len()..]
            ))?
            .query_row(params![
                    c.id.as_str(),
                    c.shared_id.to_string(),
                    c.owner.as_str(),
                    c.owner_attach_point.to_string(),
                    json(&c.owner_routing),
                    c.grant.allowed,
                    c.remote_account.as_ref().map(|a| a.as_str().to_owned()),
                    c.remote_attach_point.map(|a| a.to_string()),
                    c.remote_routing.as_ref().map(json),
                    enum_str(&c.initiator),
                    c.environment.as_str(),
                    c.bandwidth.mbps() as i64,
                    c.pending_bandwidth.map(|b| b.mbps() as i64),
                    c.description.as_str(),
                    c.state.as_str(),
                    c.state_reason.as_ref().map(|r| r.code.as_str()),
                    c.state_reason.as_ref().map(|r| r.message.clone()),
                    c.billing_tier,
                    c.grant.key_id.to_string(),
                    c.grant.expires_at,
                    json(&c.tags),
                    c.created_at,
                    c.updated_at,
                    c.last_mile.as_ref().map(json),
                    c.link_liveness.as_ref().map(json),
                ],
                |r| r.get(0),
            )
            .map_err(|e| map_duplicate(e, "connection id"))
    }

    /// Writes back every mutable field of a connection.
    pub fn update_connection(&self, c: &Connection) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE connections SET remote_account = ?2, remote_attach_point = ?3, remote_routing = ?4, \
             bandwidth_mbps = ?5, pending_bandwidth_mbps = ?6, description = ?7, state = ?8, reason_code = ?9, \
             reason_message = ?10, tags = ?11, updated_at = ?12, owner_routing = ?13, last_mile = ?14, \
             link_liveness = ?15 WHERE id = ?1",
            params![
                c.id.as_str(),
                c.remote_account.as_ref().map(|a| a.as_str().to_owned()),
                c.remote_attach_point.map(|a| a.to_string()),
                c.remote_routing.as_ref().map(json),
                c.bandwidth.mbps() as i64,
                c.pending_bandwidth.map(|b| b.mbps() as i64),
                c.description.as_str(),
                c.state.as_str(),
                c.state_reason.as_ref().map(|r| r.code.as_str()),
                c.state_reason.as_ref().map(|r| r.message.clone()),
                json(&c.tags),
                c.updated_at,
                json(&c.owner_routing),
                c.last_mile.as_ref().map(json),
                c.link_liveness.as_ref().map(json),
            ],
        )?;
        Ok(())
    }

    /// A connection's history, oldest first (written by the triggers of migration 4).
    pub fn connection_events(
        &self,
        id: &ConnectionId,
    ) -> Result<Vec<xc_types::api::ConnectionEvent>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT at, kind, state, previous_state, reason_code, reason_message, bandwidth_mbps, \
             pending_bandwidth_mbps FROM connection_events WHERE connection_id = ?1 ORDER BY seq",
        )?;
        let rows = st
            .query_map([id.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(at, kind, state, previous, code, message, bw, pending)| {
                Ok(xc_types::api::ConnectionEvent {
                    at,
                    kind: enum_parse(&kind, "event kind")?,
                    state: parse(ConnectionState::parse(&state), "event state")?,
                    previous_state: opt(previous, ConnectionState::parse, "event state")?,
                    reason: stored_reason(code, message)?,
                    bandwidth: Bandwidth::from_mbps(bw as u64),
                    pending_bandwidth: pending.map(|b| Bandwidth::from_mbps(b as u64)),
                })
            })
            .collect()
    }

    /// Last-mile connections that hold their VLAN and peering addresses (all but deleted and
    /// failed ones).
    pub fn live_last_mile_connections(&self) -> Result<Vec<Connection>, StoreError> {
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE last_mile IS NOT NULL \
             AND state NOT IN ('deleted', 'failed') ORDER BY seq"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st
            .query_map((), connection_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    pub fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE id = ?1");
        let mut st = self.conn.prepare_cached(&sql)?;
        st.query_row([id.as_str()], connection_row)
            .optional()?
            .transpose()
    }

    pub fn list_connections(
        &self,
        filter: &ConnectionFilter,
        after_seq: i64,
        limit: usize,
    ) -> Result<Page<Connection>, StoreError> {
        // ?4: a JSON array of environments.
        let environments = match self.conn.dialect() {
            crate::sql::Dialect::Sqlite => "SELECT value FROM json_each(?4)",
            crate::sql::Dialect::Postgres => "SELECT json_array_elements_text(CAST(?4 AS json))",
        };
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE seq > ?1 \
             AND (owner = ?2 OR remote_account = ?2 OR ?2 IS NULL) \
             AND (state = ?3 OR ?3 IS NULL) \
             AND (environment IN ({environments}) OR ?4 IS NULL) \
             AND (owner_attach_point = ?5 OR remote_attach_point = ?5 OR ?5 IS NULL) \
             AND NOT (state = 'deleted' AND updated_at < ?6) \
             ORDER BY seq LIMIT ?7"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params![
                after_seq,
                filter.visible_to.as_ref().map(|a| a.as_str().to_owned()),
                filter.state.map(|s| s.as_str()),
                filter
                    .environments
                    .as_ref()
                    .map(|e| json(&e.iter().map(|e| e.as_str()).collect::<Vec<_>>())),
                filter.attach_point.map(|a| a.to_string()),
                filter.hide_deleted_before,
                limit as i64 + 1
            ],
            connection_row,
        )?;
        let items: Vec<Connection> = rows.map(|r| r?).collect::<Result<_, _>>()?;
        let items = items.into_iter().map(|c| (c.seq, c)).collect();
        Ok(paginate(items, limit))
    }

    /// Connections in a state, across accounts (for the lifecycle driver).
    pub fn connections_in_state(
        &self,
        state: ConnectionState,
    ) -> Result<Vec<Connection>, StoreError> {
        let sql =
            format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE state = ?1 ORDER BY seq");
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([state.as_str()], connection_row)?;
        rows.map(|r| r?).collect()
    }

    // ---- proposals ----

    pub fn insert_proposal(&self, p: &Proposal) -> Result<(), StoreError> {
        self.conn
            .execute(
                &format!("INSERT INTO proposals ({PROPOSAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
                params![
                    p.id.to_string(),
                    p.shared_id.to_string(),
                    p.owner.as_str(),
                    p.attach_point.to_string(),
                    json(&p.routing),
                    p.environment.as_str(),
                    p.bandwidth.mbps() as i64,
                    p.description.as_ref().map(|d| d.as_str().to_owned()),
                    p.grant.allowed,
                    p.grant.key_id.to_string(),
                    p.grant.expires_at,
                    enum_str(&p.state),
                    p.connection.as_ref().map(|c| c.as_str().to_owned()),
                    p.created_at,
                ],
            )
            .map_err(|e| map_duplicate(e, "proposal id"))?;
        Ok(())
    }

    pub fn update_proposal_state(
        &self,
        id: &ProposalId,
        state: ProposalState,
        connection: Option<&ConnectionId>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE proposals SET state = ?2, connection_id = ?3 WHERE id = ?1",
            params![
                id.to_string(),
                enum_str(&state),
                connection.map(|c| c.as_str().to_owned())
            ],
        )?;
        Ok(())
    }

    pub fn get_proposal(&self, id: &ProposalId) -> Result<Option<Proposal>, StoreError> {
        let sql = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = ?1");
        let mut st = self.conn.prepare_cached(&sql)?;
        st.query_row([id.to_string()], proposal_row)
            .optional()?
            .transpose()
    }

    pub fn list_proposals(&self, owner: &AccountId) -> Result<Vec<Proposal>, StoreError> {
        let sql = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE owner = ?1 ORDER BY seq");
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([owner.as_str()], proposal_row)?;
        rows.map(|r| r?).collect()
    }

    // ---- activation keys ----

    /// Marks an activation key redeemed. `Err(Duplicate)` if it already was.
    pub fn redeem_key(
        &self,
        key_id: &uuid::Uuid,
        by: &AccountId,
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO redeemed_keys (key_id, redeemed_by, redeemed_at) VALUES (?1, ?2, ?3)",
                params![key_id.to_string(), by.as_str(), now],
            )
            .map_err(|e| map_duplicate(e, "redeemed key"))?;
        Ok(())
    }

    pub fn key_redeemed(&self, key_id: &uuid::Uuid) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM redeemed_keys WHERE key_id = ?1",
                [key_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    // ---- idempotency ----

    pub fn get_idempotency(
        &self,
        account: &AccountId,
        operation: &str,
        token: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT request_hash, response FROM idempotency WHERE account_id = ?1 AND operation = ?2 AND token = ?3",
        )?;
        Ok(st
            .query_row(params![account.as_str(), operation, token], |r| {
                Ok(IdempotencyRecord {
                    request_hash: r.get(0)?,
                    response: r.get(1)?,
                })
            })
            .optional()?)
    }

    pub fn put_idempotency(
        &self,
        account: &AccountId,
        operation: &str,
        token: &str,
        rec: &IdempotencyRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO idempotency (account_id, operation, token, request_hash, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![account.as_str(), operation, token, rec.request_hash, rec.response, now],
        )?;
        Ok(())
    }

    /// Forgets idempotency records older than `before` (tokens are honoured for a day).
    pub fn expire_idempotency(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM idempotency WHERE created_at < ?1", [before])?)
    }
}

fn paginate<T>(mut items: Vec<(i64, T)>, limit: usize) -> Page<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    let more_after = if more {
        items.last().map(|(s, _)| *s)
    } else {
        None
    };
    Page {
        items: items.into_iter().map(|(_, t)| t).collect(),
        more_after,
    }
}

fn opt<T, E: std::fmt::Display>(
    v: Option<String>,
    f: impl Fn(&str) -> Result<T, E>,
    what: &str,
) -> Result<Option<T>, StoreError> {
    v.map(|s| parse(f(&s), what)).transpose()
}

fn connection_row(r: &Row<'_>) -> crate::sql::Result<Result<Connection, StoreError>> {
    let reason_code: Option<String> = r.get(16)?;
    let reason_message: Option<String> = r.get(17)?;
    let raw = (
        r.get::<_, i64>(0)?,
        r.get::<_, String>(1)?,
        r.get::<_, String>(2)?,
        r.get::<_, String>(3)?,
        r.get::<_, String>(4)?,
        r.get::<_, String>(5)?,
        r.get::<_, String>(6)?,
        r.get::<_, Option<String>>(7)?,
        r.get::<_, Option<String>>(8)?,
        r.get::<_, Option<String>>(9)?,
        r.get::<_, String>(10)?,
        r.get::<_, String>(11)?,
    );
    let rest = (
        r.get::<_, i64>(12)?,
        r.get::<_, Option<i64>>(13)?,
        r.get::<_, String>(14)?,
        r.get::<_, String>(15)?,
        r.get::<_, i64>(18)?,
        r.get::<_, String>(19)?,
        r.get::<_, i64>(20)?,
        r.get::<_, String>(21)?,
        r.get::<_, i64>(22)?,
        r.get::<_, i64>(23)?,
        r.get::<_, Option<String>>(24)?,
        r.get::<_, Option<String>>(25)?,
    );
    Ok((|| {
        Ok(Connection {
            seq: raw.0,
            id: parse(ConnectionId::parse(&raw.1), "connection id")?,
            shared_id: parse(SharedId::parse(&raw.2), "shared id")?,
            owner: parse(AccountId::parse(&raw.3), "owner")?,
            owner_attach_point: parse(AttachPointId::parse(&raw.4), "attach point")?,
            owner_routing: from_json(&raw.5, "routing")?,
            remote_account: opt(raw.7, AccountId::parse, "remote account")?,
            remote_attach_point: opt(raw.8, AttachPointId::parse, "remote attach point")?,
            remote_routing: raw.9.map(|s| from_json(&s, "remote routing")).transpose()?,
            initiator: enum_parse(&raw.10, "initiator")?,
            environment: parse(EnvironmentId::parse(&raw.11), "environment")?,
            bandwidth: Bandwidth::from_mbps(rest.0 as u64),
            pending_bandwidth: rest.1.map(|b| Bandwidth::from_mbps(b as u64)),
            description: parse(Description::parse(&rest.2), "description")?,
            state: parse(ConnectionState::parse(&rest.3), "state")?,
            state_reason: stored_reason(reason_code, reason_message)?,
            billing_tier: rest.4 as u8,
            grant: ActivationGrant {
                key_id: parse(uuid::Uuid::parse_str(&rest.5), "key id")?,
                allowed: raw.6,
                expires_at: rest.6,
            },
            tags: from_json(&rest.7, "tags")?,
            created_at: rest.8,
            updated_at: rest.9,
            last_mile: rest.10.map(|s| from_json(&s, "last mile")).transpose()?,
            link_liveness: rest
                .11
                .map(|s| from_json(&s, "link liveness"))
                .transpose()?,
        })
    })())
}

fn proposal_row(r: &Row<'_>) -> crate::sql::Result<Result<Proposal, StoreError>> {
    let raw = (
        r.get::<_, String>(0)?,
        r.get::<_, String>(1)?,
        r.get::<_, String>(2)?,
        r.get::<_, String>(3)?,
        r.get::<_, String>(4)?,
        r.get::<_, String>(5)?,
        r.get::<_, i64>(6)?,
        r.get::<_, Option<String>>(7)?,
        r.get::<_, String>(8)?,
        r.get::<_, String>(9)?,
        r.get::<_, i64>(10)?,
        r.get::<_, String>(11)?,
        r.get::<_, Option<String>>(12)?,
        r.get::<_, i64>(13)?,
    );
    Ok((|| {
        Ok(Proposal {
            id: parse(ProposalId::parse(&raw.0), "proposal id")?,
            shared_id: parse(SharedId::parse(&raw.1), "shared id")?,
            owner: parse(AccountId::parse(&raw.2), "owner")?,
            attach_point: parse(AttachPointId::parse(&raw.3), "attach point")?,
            routing: from_json(&raw.4, "routing")?,
            environment: parse(EnvironmentId::parse(&raw.5), "environment")?,
            bandwidth: Bandwidth::from_mbps(raw.6 as u64),
            description: opt(raw.7, Description::parse, "description")?,
            grant: ActivationGrant {
                allowed: raw.8,
                key_id: parse(uuid::Uuid::parse_str(&raw.9), "key id")?,
                expires_at: raw.10,
            },
            state: enum_parse(&raw.11, "proposal state")?,
            connection: opt(raw.12, ConnectionId::parse, "connection id")?,
            created_at: raw.13,
        })
    })())
}

/// Gateways, their tokens, and links.
impl Db<'_> {
    pub fn insert_gateway_token(&self, t: &gateway::TokenRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO gateway_tokens (token_hash, account_id, attach_point, facility, expires_at, used_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
            params![
                t.token_hash,
                t.account_id.as_str(),
                t.attach_point.as_ref().map(|a| a.to_string()),
                t.facility,
                t.expires_at,
                t.created_at
            ],
        )?;
        Ok(())
    }

    pub fn get_gateway_token(
        &self,
        hash: &[u8],
    ) -> Result<Option<gateway::TokenRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT token_hash, account_id, attach_point, facility, expires_at, used_by, created_at FROM gateway_tokens WHERE token_hash = ?1",
                params![hash],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                },
            )
            .optional()?
            .map(|(token_hash, account, ap, facility, expires_at, used_by, created_at)| {
                Ok(gateway::TokenRecord {
                    token_hash,
                    account_id: parse(AccountId::parse(&account), "token account")?,
                    attach_point: ap
                        .map(|a| parse(AttachPointId::parse(&a), "token attach point"))
                        .transpose()?,
                    facility,
                    expires_at,
                    used_by,
                    created_at,
                })
            })
            .transpose()
    }

    /// Marks a token used; false when it already was.
    pub fn use_gateway_token(&self, hash: &[u8], gateway: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE gateway_tokens SET used_by = ?2 WHERE token_hash = ?1 AND used_by IS NULL",
            params![hash, gateway],
        )?;
        Ok(n == 1)
    }

    pub fn insert_gateway(&self, g: &gateway::GatewayRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO gateways (id, account_id, attach_point, facility, name, underlay_address, secret_hash, version, last_contact, status, created_at, access_interface) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10, ?11)",
                params![
                    g.id,
                    g.account_id.as_str(),
                    g.attach_point.as_ref().map(|a| a.to_string()),
                    g.facility,
                    g.name,
                    g.underlay_address.to_string(),
                    g.secret_hash,
                    g.version,
                    g.last_contact,
                    g.created_at,
                    g.access_interface,
                ],
            )
            .map_err(|e| map_duplicate(e, "gateway id"))?;
        Ok(())
    }

    fn gateway_row(r: &Row<'_>) -> crate::sql::Result<GatewayRow> {
        Ok(GatewayRow {
            id: r.get(0)?,
            account: r.get(1)?,
            attach_point: r.get(2)?,
            facility: r.get(3)?,
            name: r.get(4)?,
            underlay: r.get(5)?,
            secret_hash: r.get(6)?,
            version: r.get(7)?,
            last_contact: r.get(8)?,
            status: r.get(9)?,
            created_at: r.get(10)?,
            access_interface: r.get(11)?,
        })
    }

    fn gateways_where(
        &self,
        clause: &str,
        p: &[&dyn crate::sql::ToValue],
    ) -> Result<Vec<gateway::GatewayRecord>, StoreError> {
        let sql = format!(
            "SELECT id, account_id, attach_point, facility, name, underlay_address, secret_hash, version, last_contact, status, created_at, access_interface FROM gateways {clause} ORDER BY seq"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st
            .query_map(p, Self::gateway_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(GatewayRow::into_record).collect()
    }

    pub fn get_gateway(&self, id: &str) -> Result<Option<gateway::GatewayRecord>, StoreError> {
        Ok(self
            .gateways_where("WHERE id = ?1", &[&id])?
            .into_iter()
            .next())
    }

    /// Every gateway (`None`), or an account's.
    pub fn list_gateways(
        &self,
        account: Option<&AccountId>,
    ) -> Result<Vec<gateway::GatewayRecord>, StoreError> {
        match account {
            Some(a) => self.gateways_where("WHERE account_id = ?1", &[&a.as_str()]),
            None => self.gateways_where("", &[]),
        }
    }

    pub fn gateways_of_attach_point(
        &self,
        ap: &AttachPointId,
    ) -> Result<Vec<gateway::GatewayRecord>, StoreError> {
        self.gateways_where("WHERE attach_point = ?1", &[&ap.to_string()])
    }

    pub fn gateway_report(
        &self,
        id: &str,
        version: &str,
        at: i64,
        status: &gateway::GatewayStatus,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE gateways SET version = ?2, last_contact = ?3, status = ?4 WHERE id = ?1",
            params![id, version, at, json(status)],
        )?;
        Ok(())
    }

    pub fn touch_gateway(&self, id: &str, at: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE gateways SET last_contact = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        Ok(())
    }

    pub fn delete_gateway(&self, id: &str) -> Result<bool, StoreError> {
        self.conn.execute(
            "DELETE FROM link_number_floors WHERE gateway = ?1",
            params![id],
        )?;
        Ok(self
            .conn
            .execute("DELETE FROM gateways WHERE id = ?1", params![id])?
            == 1)
    }

    /// Plans a link: inserts it with, from each pool, the lowest number free on both of its
    /// gateways. `Ok(Err(pool))`, with nothing inserted, when that pool has none left.
    pub fn insert_link(
        &self,
        new: &NewLink,
    ) -> Result<Result<gateway::LinkRecord, gateway::Pool>, StoreError> {
        let mut numbers = [0u32; 4];
        for (slot, pool) in numbers.iter_mut().zip(gateway::Pool::ALL) {
            match self.lowest_free(&new.gateway_a, &new.gateway_b, pool)? {
                Some(n) => *slot = n,
                None => return Ok(Err(pool)),
            }
        }
        let [vni, port, v4, v6] = numbers;
        let numbers = gateway::LinkNumbers {
            vni,
            port: u16::try_from(port)
                .map_err(|_| StoreError::Corrupt(format!("port {port} out of range")))?,
            v4,
            v6,
        };
        let id: i64 = self.conn.query_row(
            "INSERT INTO links (connection_id, gateway_a, gateway_b, created_at, slot, vni, port, v4, v6) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            params![
                new.connection.as_str(),
                new.gateway_a,
                new.gateway_b,
                new.created_at,
                new.slot,
                vni,
                port,
                v4,
                v6
            ],
            |r| r.get(0),
        )?;
        let mut st = self.conn.prepare_cached(
            "INSERT INTO link_numbers (gateway, pool, number, link_id) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for g in [&new.gateway_a, &new.gateway_b] {
            for (pool, n) in gateway::Pool::ALL.into_iter().zip([vni, port, v4, v6]) {
                st.execute(params![g, pool.as_str(), n, id])?;
                self.raise_floor(g, pool)?;
            }
        }
        Ok(Ok(gateway::LinkRecord {
            id: id as u64,
            connection_id: new.connection.clone(),
            gateway_a: new.gateway_a.clone(),
            gateway_b: new.gateway_b.clone(),
            created_at: new.created_at,
            slot: new.slot,
            numbers,
        }))
    }

    /// The lowest number of `pool` that neither gateway holds. The search starts at the higher
    /// of the two gateways' floors (below a gateway's floor it holds every number) and walks the
    /// numbers they hold from there to the first gap, so filling a pool in order costs a few
    /// index steps per link.
    fn lowest_free(
        &self,
        a: &str,
        b: &str,
        pool: gateway::Pool,
    ) -> Result<Option<u32>, StoreError> {
        let range = pool.range();
        let mut candidate = self.floor(a, pool)?.max(self.floor(b, pool)?);
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT number FROM link_numbers \
             WHERE pool = ?3 AND gateway IN (?1, ?2) AND number >= ?4 ORDER BY number",
        )?;
        let mut rows = st.query(params![a, b, pool.as_str(), candidate])?;
        while let Some(r) = rows.next()? {
            let held: u32 = r.get(0)?;
            if held > candidate {
                break;
            }
            candidate = held + 1;
        }
        Ok(range.contains(&candidate).then_some(candidate))
    }

    /// A gateway's floor for a pool: every number below it is held by the gateway.
    fn floor(&self, g: &str, pool: gateway::Pool) -> Result<u32, StoreError> {
        let start = *pool.range().start();
        let stored: Option<u32> = self
            .conn
            .prepare_cached(
                "SELECT floor FROM link_number_floors WHERE gateway = ?1 AND pool = ?2",
            )?
            .query_row(params![g, pool.as_str()], |r| r.get(0))
            .optional()?;
        Ok(stored.map_or(start, |f| f.max(start)))
    }

    /// Raises a gateway's floor past the numbers it holds from there on.
    fn raise_floor(&self, g: &str, pool: gateway::Pool) -> Result<(), StoreError> {
        let mut floor = self.floor(g, pool)?;
        let mut st = self.conn.prepare_cached(
            "SELECT number FROM link_numbers \
             WHERE gateway = ?1 AND pool = ?2 AND number >= ?3 ORDER BY number",
        )?;
        let mut rows = st.query(params![g, pool.as_str(), floor])?;
        while let Some(r) = rows.next()? {
            let held: u32 = r.get(0)?;
            if held != floor {
                break;
            }
            floor += 1;
        }
        self.conn.execute(
            "INSERT INTO link_number_floors (gateway, pool, floor) VALUES (?1, ?2, ?3) \
             ON CONFLICT (gateway, pool) DO UPDATE SET floor = excluded.floor",
            params![g, pool.as_str(), floor],
        )?;
        Ok(())
    }

    fn links_where(
        &self,
        clause: &str,
        p: &[&dyn crate::sql::ToValue],
    ) -> Result<Vec<gateway::LinkRecord>, StoreError> {
        let sql = format!(
            "SELECT id, connection_id, gateway_a, gateway_b, created_at, slot, vni, port, v4, v6 \
             FROM links {clause} ORDER BY id"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st
            .query_map(p, |r| {
                Ok((
                    (
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, u8>(5)?,
                    ),
                    gateway::LinkNumbers {
                        vni: r.get(6)?,
                        port: r.get(7)?,
                        v4: r.get(8)?,
                        v6: r.get(9)?,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|((id, c, a, b, at, slot), numbers)| {
                Ok(gateway::LinkRecord {
                    id: id as u64,
                    connection_id: parse(ConnectionId::parse(&c), "link connection")?,
                    gateway_a: a,
                    gateway_b: b,
                    created_at: at,
                    slot,
                    numbers,
                })
            })
            .collect()
    }

    /// Every link.
    pub fn all_links(&self) -> Result<Vec<gateway::LinkRecord>, StoreError> {
        self.links_where("", &[])
    }

    /// How many numbers of each pool are held, by every gateway together (for tests and
    /// diagnostics).
    pub fn numbers_held(&self) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM link_numbers", (), |r| {
                r.get::<_, i64>(0)
            })? as usize)
    }

    pub fn links_of_connection(
        &self,
        c: &ConnectionId,
    ) -> Result<Vec<gateway::LinkRecord>, StoreError> {
        self.links_where("WHERE connection_id = ?1", &[&c.as_str()])
    }

    pub fn links_of_gateway(&self, g: &str) -> Result<Vec<gateway::LinkRecord>, StoreError> {
        self.links_where("WHERE gateway_a = ?1 OR gateway_b = ?1", &[&g])
    }

    pub fn delete_links_of_connection(&self, c: &ConnectionId) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM links WHERE connection_id = ?1",
            params![c.as_str()],
        )?)
    }

    /// Each link's recorded state and reason code (`link_states`).
    pub fn link_states(
        &self,
    ) -> Result<
        std::collections::BTreeMap<gateway::LinkId, (gateway::LinkState, Option<StateReasonCode>)>,
        StoreError,
    > {
        let mut st = self
            .conn
            .prepare_cached("SELECT link_id, state, reason_code FROM link_states")?;
        let rows = st
            .query_map((), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, state, code)| {
                let state = match state.as_str() {
                    "up" => gateway::LinkState::Up,
                    "down" => gateway::LinkState::Down,
                    other => return Err(StoreError::Corrupt(format!("link state `{other}`"))),
                };
                let code = code
                    .map(|c| parse(StateReasonCode::parse(&c), "link state reason"))
                    .transpose()?;
                Ok((id as u64, (state, code)))
            })
            .collect()
    }

    /// Records a link's state (a link removed meanwhile is left alone); a change of state, or
    /// of the reason code of an up link (a warning), is an event for the connection's accounts
    /// (the trigger of migration 0020).
    pub fn set_link_state(
        &self,
        id: gateway::LinkId,
        state: gateway::LinkState,
        reason: Option<&StateReason>,
        at: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO link_states (link_id, state, reason_code, reason_message, since)
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM links WHERE id = ?1)
                 ON CONFLICT (link_id) DO UPDATE SET state = excluded.state,
                   reason_code = excluded.reason_code, reason_message = excluded.reason_message,
                   since = excluded.since",
            )?
            .execute(params![
                id as i64,
                state.to_string(),
                reason.map(|r| r.code.as_str()),
                reason.map(|r| r.message.as_str()),
                at
            ])?;
        Ok(())
    }

    /// Removes a link; its numbers go back to their pools.
    pub fn delete_link(&self, id: gateway::LinkId) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM links WHERE id = ?1", params![id as i64])?;
        Ok(())
    }
}

/// A link to plan: its connection, its two gateways, and (last mile) the customer session it
/// carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    pub connection: ConnectionId,
    pub gateway_a: String,
    pub gateway_b: String,
    pub slot: u8,
    pub created_at: i64,
}

struct GatewayRow {
    id: String,
    account: String,
    attach_point: Option<String>,
    facility: Option<String>,
    name: String,
    underlay: String,
    secret_hash: Vec<u8>,
    version: Option<String>,
    last_contact: Option<i64>,
    status: Option<String>,
    created_at: i64,
    access_interface: Option<String>,
}

impl GatewayRow {
    fn into_record(self) -> Result<gateway::GatewayRecord, StoreError> {
        Ok(gateway::GatewayRecord {
            account_id: parse(AccountId::parse(&self.account), "gateway account")?,
            attach_point: self
                .attach_point
                .map(|a| parse(AttachPointId::parse(&a), "gateway attach point"))
                .transpose()?,
            facility: self.facility,
            name: self.name,
            underlay_address: parse(self.underlay.parse(), "gateway underlay")?,
            secret_hash: self.secret_hash,
            version: self.version,
            last_contact: self.last_contact,
            // A report in a form this version cannot read (an older version's) is no report:
            // the gateway's next one replaces it within seconds.
            status: self.status.and_then(|s| serde_json::from_str(&s).ok()),
            created_at: self.created_at,
            access_interface: self.access_interface,
            id: self.id,
        })
    }
}
