//! Versioned migrations: `PRAGMA user_version` is the version applied; each migration runs in its
//! own transaction together with the version bump.

use crate::StoreError;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_gateways.sql"),
    include_str!("migrations/0003_last_mile.sql"),
    include_str!("migrations/0004_events.sql"),
    include_str!("migrations/0005_link_numbers.sql"),
    include_str!("migrations/0006_console_sessions.sql"),
    include_str!("migrations/0007_attach_point_asn.sql"),
    include_str!("migrations/0008_link_minutes.sql"),
    include_str!("migrations/0009_alarms.sql"),
    include_str!("migrations/0010_account_events.sql"),
    include_str!("migrations/0011_link_rollups.sql"),
    include_str!("migrations/0012_link_states.sql"),
    include_str!("migrations/0013_quotas.sql"),
    include_str!("migrations/0014_audit.sql"),
    include_str!("migrations/0015_usage.sql"),
    include_str!("migrations/0016_maintenance.sql"),
    include_str!("migrations/0017_account_use.sql"),
    include_str!("migrations/0018_filters.sql"),
    include_str!("migrations/0019_flow_logs.sql"),
    include_str!("migrations/0020_link_warnings.sql"),
    include_str!("migrations/0021_link_liveness.sql"),
    include_str!("migrations/0022_cluster.sql"),
    include_str!("migrations/0023_gateway_asks.sql"),
];

pub(crate) fn run(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this binary knows ({}); upgrade xconnect",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied database migration");
    }
    Ok(())
}

/// PostgreSQL's migrations: the first is SQLite's 0001 to 0021 in one step; each later one pairs
/// with a SQLite migration.
const PG_MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_schema.sql"),
    include_str!("migrations/postgres/0002_cluster.sql"),
    include_str!("migrations/postgres/0003_gateway_asks.sql"),
];

/// Applies PostgreSQL's pending migrations, each in its own transaction with the version it
/// reaches, while holding `lock` (an advisory lock) so replicas starting together migrate once.
pub(crate) fn run_postgres(client: &mut postgres::Client, lock: i64) -> Result<(), StoreError> {
    let pg = |e: postgres::Error| StoreError::from(crate::sql::Error::pg(e, "migration"));
    client
        .batch_execute(&format!(
            "SELECT pg_advisory_lock({lock}); \
             CREATE TABLE IF NOT EXISTS xc_schema (version BIGINT NOT NULL); \
             INSERT INTO xc_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM xc_schema)"
        ))
        .map_err(pg)?;
    let result = (|| {
        let current: i64 = client
            .query_one("SELECT version FROM xc_schema", &[])
            .map_err(pg)?
            .get(0);
        let current = usize::try_from(current).unwrap_or(usize::MAX);
        if current > PG_MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "database schema version {current} is newer than this binary knows ({}); upgrade xconnect",
                PG_MIGRATIONS.len()
            )));
        }
        for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(current) {
            let mut tx = client.transaction().map_err(pg)?;
            tx.batch_execute(sql).map_err(pg)?;
            tx.execute("UPDATE xc_schema SET version = $1", &[&((i + 1) as i64)])
                .map_err(pg)?;
            tx.commit().map_err(pg)?;
            tracing::info!(version = i + 1, "applied database migration");
        }
        Ok(())
    })();
    client
        .batch_execute(&format!("SELECT pg_advisory_unlock({lock})"))
        .map_err(pg)?;
    result
}
