//! Moving an installation from SQLite to PostgreSQL (`xconnect store copy`): every table, row
//! for row, in one transaction on each side, while no server uses the source.
//!
//! Both schemas are brought to the latest version first (opening each applies its migrations),
//! so the tables and columns match. The target must hold no data. Its triggers are off during the
//! copy (the rows they would derive, such as events and per-account counts, are copied as they
//! are); its identity sequences are moved past the copied keys after it. Sealed secrets are
//! copied as stored: the servers on the target need the same master key.

use crate::sql::{self, ToValue, ValueRef};
use crate::{Database, StoreError};
use std::path::Path;

/// Every table, parents before the tables that refer to them. A test checks that it names each
/// table of the schema, so a migration that adds one must add it here.
pub const TABLES: &[&str] = &[
    "meta",
    "accounts",
    "access_keys",
    "console_sessions",
    "attach_points",
    "connections",
    "proposals",
    "redeemed_keys",
    "idempotency",
    "gateway_tokens",
    "gateways",
    "links",
    "link_numbers",
    "link_number_floors",
    "link_states",
    "connection_events",
    "account_events",
    "link_minutes",
    "link_rollups",
    "rollup_marks",
    "rollup_dirty",
    "alarms",
    "alarm_history",
    "webhooks",
    "alarm_webhooks",
    "webhook_deliveries",
    "webhook_attempts",
    "account_quotas",
    "account_use",
    "account_counts",
    "audit_records",
    "audit_anchor",
    "metered_hours",
    "metered_tiers",
    "meter_mark",
    "maintenance_windows",
    "security_groups",
    "security_group_attachments",
    "network_acls",
    "prefix_lists",
    "flow_log_settings",
    "flow_log_records",
    "replicas",
    "leader_lease",
    "gateway_asks",
];

/// What a copy moved: rows per table, in [`TABLES`]' order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

impl Copied {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// One stored value, owned.
#[derive(Debug, Clone)]
enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl ToValue for Value {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(match self {
            Self::Null => ValueRef::Null,
            Self::Integer(i) => ValueRef::Integer(*i),
            Self::Real(r) => ValueRef::Real(*r),
            Self::Text(s) => ValueRef::Text(s),
            Self::Blob(b) => ValueRef::Blob(b),
        })
    }
}

/// Most parameters in one multi-row insert (PostgreSQL allows 65,535).
const MAX_PARAMS: usize = 30_000;

/// Copies everything from the SQLite database at `from` to the empty PostgreSQL database `to`.
/// Runs on the calling thread, which must not drive async tasks. `progress` hears of each table
/// as it is done.
pub fn sqlite_to_postgres(
    from: &Path,
    to: &Database,
    mut progress: impl FnMut(&str, u64),
) -> Result<Copied, StoreError> {
    let Database::Postgres(config) = to else {
        return Err(StoreError::Corrupt(
            "the target of a copy must be a PostgreSQL database".into(),
        ));
    };
    if !from.is_file() {
        return Err(StoreError::Corrupt(format!(
            "{} is not a database file",
            from.display()
        )));
    }
    // Both schemas up to date.
    crate::Store::open(from)?.close();
    crate::Store::connect(to)?.close();

    let source = crate::open_connection(from, true)?;
    let mut target = crate::pg_connect(config, false)?;
    let client = target.client();
    let pg = |e: postgres::Error| StoreError::from(sql::Error::pg(e, "copy"));
    let mut tx = client.transaction().map_err(pg)?;
    for table in TABLES {
        let held: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .map_err(pg)?
            .get(0);
        if held > 0 && *table != "meta" {
            return Err(StoreError::Corrupt(format!(
                "the target database is not empty ({table} has {held} rows): copy into a new database"
            )));
        }
    }
    // The target's own meta rows (none today) give way to the source's.
    tx.batch_execute("DELETE FROM meta").map_err(pg)?;
    // A snapshot of the source for the whole copy.
    source.execute_batch("BEGIN")?;
    let mut copied = Copied::default();
    for table in TABLES {
        tx.batch_execute(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
            .map_err(pg)?;
        let n = copy_table(&source, &mut tx, table)?;
        tx.batch_execute(&format!("ALTER TABLE {table} ENABLE TRIGGER USER"))
            .map_err(pg)?;
        progress(table, n);
        copied.tables.push((table, n));
    }
    source.execute_batch("COMMIT")?;
    // Identity columns continue after the copied keys.
    let identities: Vec<(String, String)> = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE is_identity = 'YES' AND table_schema = current_schema()",
            &[],
        )
        .map_err(pg)?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (table, column) in identities {
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
        ))
        .map_err(pg)?;
    }
    tx.commit().map_err(pg)?;
    Ok(copied)
}

fn copy_table(
    source: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
) -> Result<u64, StoreError> {
    // SQLite's implicit row order for the table without a key of its own.
    let order = if table == "webhook_attempts" {
        " ORDER BY rowid"
    } else {
        ""
    };
    let mut st = source.prepare(&format!("SELECT * FROM {table}{order}"))?;
    let columns: Vec<String> = st.column_names().iter().map(|c| c.to_string()).collect();
    let width = columns.len().max(1);
    let per_insert = (MAX_PARAMS / width).max(1);
    let mut rows = st.query([])?;
    let mut batch: Vec<Value> = Vec::with_capacity(per_insert * width);
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        for i in 0..width {
            use rusqlite::types::ValueRef as V;
            batch.push(match r.get_ref(i)? {
                V::Null => Value::Null,
                V::Integer(v) => Value::Integer(v),
                V::Real(v) => Value::Real(v),
                V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                V::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        n += 1;
        if batch.len() >= per_insert * width {
            insert(tx, table, &columns, &batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        insert(tx, table, &columns, &batch)?;
    }
    Ok(n)
}

/// One multi-row insert of `values`, a row of `columns` after another.
fn insert(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    columns: &[String],
    values: &[Value],
) -> Result<(), StoreError> {
    let width = columns.len();
    let rows: Vec<String> = (0..values.len() / width)
        .map(|r| {
            let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        rows.join(", ")
    );
    let params: Vec<&dyn ToValue> = values.iter().map(|v| v as &dyn ToValue).collect();
    let bound = sql::pg_params(&params);
    tx.execute(sql.as_str(), &sql::pg_bind(&bound))
        .map_err(|e| StoreError::from(sql::Error::pg(e, &sql)))?;
    Ok(())
}
