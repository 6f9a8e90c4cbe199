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
