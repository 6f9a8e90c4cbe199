//! The audit trail: [`Service::record`] appends one request's record, chained to the last
//! one in the same transaction (the store's single writer orders them); admins read their
//! account's records, the operator everyone's and checks the chain; retention removes the
//! oldest, keeping the last removed record's hash as the anchor. See [`crate::audit`].

use super::{Caller, Service, page_limit};
use crate::{Result, ServiceError};
use std::net::IpAddr;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use xc_store::{AuditFilter, AuditRow};
use xc_types::api::audit::*;
use xc_types::{AccessKeyId, AccountId};

/// How long records are kept unless the operator says otherwise: 90 days (as CloudTrail's event
/// history).
pub const DEFAULT_AUDIT_RETENTION_SECS: i64 = 90 * 86_400;
/// A listing's default span: the last hour.
const DEFAULT_SPAN_SECS: i64 = 3600;
/// Records a check reads at a time.
const VERIFY_PAGE: usize = 5000;
/// Records retention removes per transaction (the writer is not held long).
const PRUNE_STEP: usize = 5000;
/// The longest user agent and resource kept (longer ones are cut, marked with `…`).
const MAX_TEXT: usize = 512;

/// One request to record: what the HTTP layer knows of it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub account: AccountId,
    pub access_key: Option<AccessKeyId>,
    pub principal: PrincipalKind,
    pub source: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub operation: String,
    pub resource: Option<String>,
    pub outcome: AuditOutcome,
    pub error_code: Option<String>,
    pub request_id: String,
}

/// `s` cut to [`MAX_TEXT`] bytes at a character boundary.
fn bounded(s: String) -> String {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn record_of(r: AuditRow) -> AuditRecord {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.at_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    AuditRecord {
        seq: u64::try_from(r.seq).unwrap_or(0),
        time,
        account_id: r.account_id,
        access_key_id: r.access_key,
        // A kind or outcome this version does not know (written by a newer one) shows as what
        // is nearest: a key's request, failed.
        principal: PrincipalKind::parse(&r.principal).unwrap_or(PrincipalKind::AccessKey),
        source_address: r.source,
        user_agent: r.user_agent,
        operation: r.operation,
        resource: r.resource,
        outcome: AuditOutcome::parse(&r.outcome).unwrap_or(AuditOutcome::Failed),
        error_code: r.error_code,
        request_id: r.request_id,
        hash: hex::encode(&r.hash),
    }
}

/// Most audit records appended behind their requests at once; past it, a request waits for room
/// (backpressure: a record is never dropped to keep up).
pub(crate) const MAX_AUDIT_IN_FLIGHT: u32 = 4096;
/// Most records the appender writes in one transaction.
const AUDIT_BATCH: usize = 512;

/// A record waiting for the appender, with the room it holds.
pub(crate) type QueuedAudit = (AuditRow, tokio::sync::OwnedSemaphorePermit);

impl Service {
    /// Appends a request's record without making the request wait for the disk: the record goes
    /// to one appender task, which writes every record queued at the time in one transaction
    /// (one read of the chain's tail, one insert per record); a failure is logged and counted
    /// (`xconnect_audit_write_failures_total`). At most [`MAX_AUDIT_IN_FLIGHT`] wait at once;
    /// then this waits for room. CloudTrail, too, delivers a request's event after its answer.
    /// [`Service::flush_audit`] waits for them all.
    pub async fn record_soon(self: &std::sync::Arc<Self>, e: AuditEntry) {
        let Ok(permit) = self.audit_in_flight.clone().acquire_owned().await else {
            return;
        };
        let queue = self.audit_queue.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(MAX_AUDIT_IN_FLIGHT as usize);
            tokio::spawn(append_behind(
                self.store.clone(),
                std::sync::Arc::downgrade(self),
                rx,
            ));
            tx
        });
        // The queue holds as many as there are permits, so this never waits; it fails only when
        // the appender is gone (the runtime is shutting down), and then the record is lost with
        // the process, as any record in flight at a kill.
        if queue.send((self.audit_row(e), permit)).await.is_err() {
            tracing::error!("the audit appender is gone; a record is lost");
            self.telemetry.audit_write_failed();
        }
    }

    /// Waits until every record [`Service::record_soon`] took is stored (or failed): at shutdown.
    pub async fn flush_audit(&self) {
        let _ = self.audit_in_flight.acquire_many(MAX_AUDIT_IN_FLIGHT).await;
    }

    /// Appends a request's record; answers once it is durable.
    pub async fn record(&self, e: AuditEntry) -> Result<()> {
        let row = self.audit_row(e);
        self.store
            .write(move |db| append_chained(db, vec![row]))
            .await
    }

    /// The row of a record, stamped now; its number and hash are set when it is appended.
    fn audit_row(&self, e: AuditEntry) -> AuditRow {
        AuditRow {
            seq: 0,
            at_ms: self.now().saturating_mul(1000),
            account_id: e.account.as_str().to_owned(),
            access_key: e.access_key.map(|k| k.as_str().to_owned()),
            principal: e.principal.as_str().to_owned(),
            source: e.source.map(|a| a.to_string()),
            user_agent: e.user_agent.map(bounded),
            operation: bounded(e.operation),
            resource: e.resource.map(bounded),
            outcome: e.outcome.as_str().to_owned(),
            error_code: e.error_code.map(bounded),
            request_id: bounded(e.request_id),
            hash: Vec::new(),
        }
    }

    /// Records from `since` (default: the last hour), oldest first, a page at a time: the
    /// caller's account's (an admin key's; a read-only key may not read them), or any
    /// account's for the operator.
    pub async fn list_audit(&self, caller: &Caller, q: AuditQuery) -> Result<AuditList> {
        caller.require_write().map_err(|_| {
            ServiceError::AccessDenied(
                "the audit trail is for the account's admin keys; this key is read-only".into(),
            )
        })?;
        let since = match &q.since {
            Some(s) => super::parse_time("since", s)?,
            None => self.now() - DEFAULT_SPAN_SECS,
        };
        let account = match (&q.account_id, caller.is_operator()) {
            (Some(a), true) => Some(
                AccountId::parse(a)
                    .map_err(|e| ServiceError::validation("accountId", e))?
                    .as_str()
                    .to_owned(),
            ),
            (None, true) => None,
            (Some(a), false) if a != caller.account.as_str() => {
                return Err(ServiceError::AccessDenied(
                    "only the operator may read another account's audit trail".into(),
                ));
            }
            (_, false) => Some(caller.account.as_str().to_owned()),
        };
        if let Some(op) = &q.operation
            && (op.is_empty() || op.len() > 64 || !op.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(ServiceError::validation(
                "operation",
                "is an operation's name, such as CreateConnection",
            ));
        }
        let limit = page_limit(q.max_results.map(|m| m as usize))?;
        let since_text = since.to_string();
        let scope = [
            "audit",
            caller.account.as_str(),
            account.as_deref().unwrap_or("*"),
            q.operation.as_deref().unwrap_or("*"),
            &since_text,
        ];
        let after = self.page_start(q.next_token.as_deref(), &scope)?;
        let filter = AuditFilter {
            account: account.clone(),
            operation: q.operation.clone(),
            since_ms: since.saturating_mul(1000),
        };
        let mut rows = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.audit_records(&filter, after, limit + 1)?))
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_token = more
            .then(|| rows.last().map(|r| self.page_token(r.seq, &scope)))
            .flatten();
        Ok(AuditList {
            records: rows.into_iter().map(record_of).collect(),
            next_token,
        })
    }

    /// Checks the whole trail (operator): every record as written and in its place.
    pub async fn verify_audit(&self, caller: &Caller) -> Result<AuditVerification> {
        if !caller.is_operator() {
            return Err(ServiceError::AccessDenied(
                "only the operator may check the audit trail".to_owned(),
            ));
        }
        let anchor = self
            .store
            .read(|db| Ok::<_, ServiceError>(db.audit_anchor()?))
            .await?;
        let pruned_through = anchor.as_ref().map_or(0, |(s, _)| *s);
        let mut walk = crate::audit::Walk::new(anchor);
        loop {
            let after = walk.last_seq();
            let rows = self
                .store
                .read(move |db| Ok::<_, ServiceError>(db.audit_chain(after, VERIFY_PAGE)?))
                .await?;
            let done = rows.len() < VERIFY_PAGE;
            for r in &rows {
                walk.next(r);
            }
            if done {
                break;
            }
        }
        let to_u64 = |s: i64| u64::try_from(s).unwrap_or(0);
        Ok(AuditVerification {
            intact: walk.first_break.is_none(),
            checked: walk.checked,
            first_seq: walk.first_seq.map(to_u64),
            last_seq: walk.first_seq.map(|_| to_u64(walk.last_seq())),
            pruned_through: to_u64(pruned_through),
            last_hash: walk.first_seq.map(|_| hex::encode(walk.last_hash())),
            first_break: walk.first_break,
        })
    }

    /// Removes the records older than the retention, a step at a time. Answers how many went.
    pub async fn prune_audit(&self) -> Result<usize> {
        let before_ms = (self.now() - self.config.audit_retention_secs).saturating_mul(1000);
        let total = self
            .prune_in_steps(PRUNE_STEP, move |db, step| db.prune_audit(before_ms, step))
            .await?;
        if total > 0 {
            tracing::info!(
                records = total,
                "audit records past their retention removed"
            );
        }
        Ok(total)
    }

    /// Applies the retention once an hour until told to stop.
    pub(crate) async fn run_audit_retention(
        self: std::sync::Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        Service::every(
            "audit retention",
            std::time::Duration::from_secs(3600),
            stop,
            || async { self.prune_audit().await.map(|_| ()) },
        )
        .await;
    }
}

/// Appends `rows` in order after the chain's tail, each chained to the one before: in the
/// caller's transaction, so the store's single writer orders them with every other append.
fn append_chained(db: &xc_store::Db<'_>, rows: Vec<AuditRow>) -> Result<()> {
    let (mut seq, mut prev) = db
        .audit_tail()?
        .unwrap_or((0, crate::audit::GENESIS.to_vec()));
    for mut row in rows {
        seq += 1;
        row.seq = seq;
        row.hash = crate::audit::chain_hash(&prev, &row);
        db.append_audit(&row)?;
        prev = row.hash;
    }
    Ok(())
}

/// The appender: writes what [`Service::record_soon`] queued, up to [`AUDIT_BATCH`] records a
/// transaction, until the service is dropped. A failed batch is logged and counted per record.
async fn append_behind(
    store: std::sync::Arc<xc_store::Store>,
    service: std::sync::Weak<Service>,
    mut rx: tokio::sync::mpsc::Receiver<QueuedAudit>,
) {
    let mut batch = Vec::with_capacity(AUDIT_BATCH);
    while rx.recv_many(&mut batch, AUDIT_BATCH).await > 0 {
        let (rows, permits): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let n = rows.len();
        if let Err(e) = store.write(move |db| append_chained(db, rows)).await {
            // The requests were done; their records could not be written (a full disk): said
            // loudly and counted.
            tracing::error!(error = %e, records = n, "audit records could not be stored");
            if let Some(s) = service.upgrade() {
                for _ in 0..n {
                    s.telemetry.audit_write_failed();
                }
            }
        }
        drop(permits);
    }
}
