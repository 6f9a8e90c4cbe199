//! Maintenance windows: the operator announces them (in the future, at most 7 days long, for all
//! connections or one environment's) and may withdraw one that has not begun; everyone lists
//! those not yet ended; statements leave out of the SLA those announced
//! [`crate::catalog::Sla::maintenance_notice_secs`] or more before they began.

use super::{Caller, Service};
use crate::billing::Window;
use crate::{Result, ServiceError};
use xc_store::MaintenanceRow;
use xc_types::api::Deleted;
use xc_types::api::maintenance::*;

/// The longest window.
const MAX_WINDOW_SECS: i64 = 7 * 86_400;

impl Service {
    fn window_of(&self, m: MaintenanceRow) -> MaintenanceWindow {
        MaintenanceWindow {
            excluded_from_sla: m.start - m.announced_at
                >= self.catalog.sla().maintenance_notice_secs,
            id: m.id,
            start: super::fmt_time(m.start),
            end: super::fmt_time(m.end),
            description: m.description,
            environment_id: m.environment,
            announced_at: super::fmt_time(m.announced_at),
        }
    }

    /// Announces a window (operator).
    pub async fn create_maintenance(
        &self,
        caller: &Caller,
        req: CreateMaintenanceRequest,
    ) -> Result<MaintenanceWindow> {
        caller.require_operator()?;
        let now = self.now();
        let start = super::parse_time("start", &req.start)?;
        let end = super::parse_time("end", &req.end)?;
        if start < now {
            return Err(ServiceError::validation(
                "start",
                "is in the future: a window is announced before it begins",
            ));
        }
        if end <= start || end - start > MAX_WINDOW_SECS {
            return Err(ServiceError::validation(
                "end",
                "comes after start, at most 7 days after it",
            ));
        }
        let description = req.description.trim().to_owned();
        if !xc_types::api::schema::is_name(&description, 256) {
            return Err(ServiceError::validation(
                "description",
                "is 1 to 256 printable characters",
            ));
        }
        if let Some(e) = &req.environment_id {
            self.environment(e)?;
        }
        let row = MaintenanceRow {
            id: format!("mw-{}", hex::encode(rand::random::<[u8; 8]>())),
            start,
            end,
            description,
            environment: req.environment_id,
            announced_at: now,
        };
        let stored = row.clone();
        self.store
            .write(move |db| Ok::<_, ServiceError>(db.insert_maintenance(&stored)?))
            .await?;
        tracing::info!(window = %row.id, start, end, "maintenance window announced");
        Ok(self.window_of(row))
    }

    /// The windows that have not ended, soonest first.
    pub async fn list_maintenance(&self, _caller: &Caller) -> Result<MaintenanceList> {
        let now = self.now();
        let rows = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.maintenance_between(now, i64::MAX)?))
            .await?;
        Ok(MaintenanceList {
            windows: rows.into_iter().map(|m| self.window_of(m)).collect(),
        })
    }

    /// Withdraws a window that has not begun (operator): one that has is part of the record.
    pub async fn delete_maintenance(&self, caller: &Caller, id: &str) -> Result<Deleted> {
        caller.require_operator()?;
        let now = self.now();
        let key = id.to_owned();
        self.store
            .write(move |db| {
                let m = db
                    .get_maintenance(&key)?
                    .ok_or_else(|| ServiceError::not_found("maintenance window", &key))?;
                if m.start <= now {
                    return Err(ServiceError::Conflict(format!(
                        "maintenance window {key} has begun: it stays on the record"
                    )));
                }
                db.delete_maintenance(&key)?;
                Ok(())
            })
            .await?;
        Ok(Deleted {
            id: id.to_owned(),
            deleted: true,
        })
    }

    /// The windows in `[from, to)` announced in time to be left out of the SLA.
    pub(crate) async fn sla_windows(&self, from: i64, to: i64) -> Result<Vec<Window>> {
        let notice = self.catalog.sla().maintenance_notice_secs;
        let rows = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.maintenance_between(from, to)?))
            .await?;
        Ok(rows
            .into_iter()
            .filter(|m| m.start - m.announced_at >= notice)
            .map(|m| Window {
                start: m.start,
                end: m.end,
                environment: m.environment,
            })
            .collect())
    }
}
