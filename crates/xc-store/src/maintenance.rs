//! Maintenance windows (migration 0016).

use crate::sql::{OptionalExtension, params};
use crate::{Db, StoreError};

/// A window, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceRow {
    pub id: String,
    pub start: i64,
    pub end: i64,
    pub description: String,
    pub environment: Option<String>,
    pub announced_at: i64,
}

const COLUMNS: &str = "id, start_at, end_at, description, environment, announced_at";

fn row(r: &crate::sql::Row<'_>) -> crate::sql::Result<MaintenanceRow> {
    Ok(MaintenanceRow {
        id: r.get(0)?,
        start: r.get(1)?,
        end: r.get(2)?,
        description: r.get(3)?,
        environment: r.get(4)?,
        announced_at: r.get(5)?,
    })
}

impl Db<'_> {
    pub fn insert_maintenance(&self, m: &MaintenanceRow) -> Result<(), StoreError> {
        self.conn.execute(
            &format!("INSERT INTO maintenance_windows ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                m.id,
                m.start,
                m.end,
                m.description,
                m.environment,
                m.announced_at
            ],
        )?;
        Ok(())
    }

    /// The windows that overlap `[from, to)`, soonest first.
    pub fn maintenance_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<MaintenanceRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM maintenance_windows WHERE end_at > ?1 AND start_at < ?2
             ORDER BY start_at, id"
        ))?;
        let rows = st
            .query_map(params![from, to], row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub fn get_maintenance(&self, id: &str) -> Result<Option<MaintenanceRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM maintenance_windows WHERE id = ?1"
            ))?
            .query_row(params![id], row)
            .optional()?)
    }

    pub fn delete_maintenance(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM maintenance_windows WHERE id = ?1", params![id])?
            > 0)
    }
}
