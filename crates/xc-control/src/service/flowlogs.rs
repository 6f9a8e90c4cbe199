//! Flow logs: a connection's owner turns its side's flow log on or off (a side is an attach
//! point: its gateways log the flows crossing its links, with the attach point's account as the
//! records' account); the gateways send the records with their reports; the side's owner
//! queries them. The other side's records are the other side's business, as its filters are.
//!
//! Records are kept [`RETENTION_SECS`] and removed by the hourly retention.

use super::connections::{load_visible, parse_connection_id};
use super::{Caller, Service};
use crate::{Result, ServiceError};
use std::net::IpAddr;
use xc_store::{Db, FlowLogFilter, FlowLogSettingRow};
use xc_types::api::flowlogs::*;
use xc_types::filter::IpProtocol;
use xc_types::flowlog::{
    FlowAction, FlowLogRecord, FlowLogSpec, MAX_RECORDS_PER_REPORT, validate_settings,
};
use xc_types::{AttachPoint, AttachPointId, Connection};

/// How long records are kept.
pub const RETENTION_SECS: i64 = 7 * 86_400;
/// What a query looks back over without `since`.
const DEFAULT_SINCE_SECS: i64 = 600;
/// Records removed per retention transaction.
const PRUNE_STEP: usize = 10_000;

/// The connection's sides that the caller owns (both, when one account is on both sides).
fn own_sides(db: &Db<'_>, caller: &Caller, c: &Connection) -> Result<Vec<AttachPoint>> {
    let mut sides = Vec::new();
    for id in std::iter::once(&c.owner_attach_point).chain(&c.remote_attach_point) {
        if let Some(ap) = db.get_attach_point(id)?
            && ap.account_id == caller.account
            && !sides.iter().any(|s: &AttachPoint| s.id == ap.id)
        {
            sides.push(ap);
        }
    }
    Ok(sides)
}

fn settings_view(db: &Db<'_>, c: &Connection, sides: &[AttachPoint]) -> Result<FlowLogSettings> {
    let mut out = Vec::new();
    for ap in sides {
        let s = db.flow_log(&c.id, &ap.id)?;
        out.push(FlowLogSide {
            attach_point_id: ap.id,
            enabled: s.is_some(),
            sampling: s.as_ref().map(|s| s.sampling),
            aggregation_interval: s.as_ref().map(|s| s.aggregation_secs),
            enabled_at: s.as_ref().map(|s| super::fmt_time(s.enabled_at)),
        });
    }
    Ok(FlowLogSettings {
        connection_id: c.id.clone(),
        sides: out,
    })
}

/// The flow logs an attach point's gateway writes: one per link of a connection whose flow log
/// is on for the attach point, keyed by the link's name.
pub(crate) fn specs_of(
    db: &Db<'_>,
    ap: &AttachPointId,
    links: &[(String, u64, xc_types::ConnectionId)],
) -> Result<Vec<(String, FlowLogSpec)>> {
    let mut out = Vec::new();
    for (name, id, connection) in links {
        if let Some(s) = db.flow_log(connection, ap)? {
            out.push((
                name.clone(),
                FlowLogSpec {
                    account_id: s.account_id.to_string(),
                    interface_id: id.to_string(),
                    sampling: s.sampling,
                    aggregation_secs: s.aggregation_secs,
                },
            ));
        }
    }
    Ok(out)
}

/// Stores the records a gateway sent, each under the connection of its link (its
/// `interface-id`) and the gateway's attach point. Records of links that are not the gateway's,
/// or of a gateway without an attach point, are dropped: a gateway speaks only for itself.
pub(crate) fn take_records(
    db: &Db<'_>,
    gateway_id: &str,
    records: &[FlowLogRecord],
    now: i64,
) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let Some(ap) = db.get_gateway(gateway_id)?.and_then(|g| g.attach_point) else {
        return Ok(());
    };
    let mut by_link: std::collections::BTreeMap<u64, Vec<FlowLogRecord>> = Default::default();
    for r in records {
        if let Ok(link) = r.interface_id.parse::<u64>() {
            by_link.entry(link).or_default().push(r.clone());
        }
    }
    let account = db.get_attach_point(&ap)?.map(|a| a.account_id.to_string());
    let links = db.links_of_gateway(gateway_id)?;
    for (link, mut rs) in by_link {
        let Some(l) = links.iter().find(|l| l.id == link) else {
            continue;
        };
        // The account is the attach point's, whatever the gateway wrote.
        if let Some(account) = &account {
            for r in &mut rs {
                r.account_id.clone_from(account);
            }
        }
        db.add_flow_logs(&l.connection_id, &ap, link, &rs, now)?;
    }
    Ok(())
}

/// Checks the size of a report's records.
pub(crate) fn admissible(records: &[FlowLogRecord]) -> Result<()> {
    if records.len() > MAX_RECORDS_PER_REPORT {
        return Err(ServiceError::validation(
            "flowLogs",
            format!("at most {MAX_RECORDS_PER_REPORT} in one report"),
        ));
    }
    Ok(())
}

fn parse_filter(q: &FlowLogQuery, now: i64) -> Result<FlowLogFilter> {
    let since = match &q.since {
        Some(s) => super::parse_time("since", s)?,
        None => now - DEFAULT_SINCE_SECS,
    };
    let until = match &q.until {
        Some(s) => super::parse_time("until", s)?,
        None => now + 1,
    };
    if until <= since {
        return Err(ServiceError::validation("until", "is after since"));
    }
    let addr = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| ServiceError::validation(field, "is an IPv4 or IPv6 address"))
            })
            .transpose()
    };
    let protocol = q
        .protocol
        .as_deref()
        .map(|p| match IpProtocol::parse(p) {
            Ok(IpProtocol::All) | Err(_) => Err(ServiceError::validation(
                "protocol",
                "is tcp, udp, icmp, icmpv6 or a protocol number",
            )),
            Ok(p) => Ok(p.number().unwrap_or(0)),
        })
        .transpose()?;
    Ok(FlowLogFilter {
        attach_points: Vec::new(),
        since,
        until,
        action: q
            .action
            .as_deref()
            .map(FlowAction::parse)
            .transpose()
            .map_err(|e| ServiceError::validation("action", e))?,
        srcaddr: addr("srcaddr", &q.srcaddr)?,
        dstaddr: addr("dstaddr", &q.dstaddr)?,
        port: q.port,
        protocol,
        after: 0,
    })
}

impl Service {
    /// Turns the flow log of the caller's side(s) of a connection on or off.
    pub async fn set_flow_log(
        &self,
        caller: &Caller,
        id: &str,
        req: FlowLogUpdate,
    ) -> Result<FlowLogSettings> {
        caller.require_write()?;
        let id = parse_connection_id("id", id)?;
        let sampling = req.sampling.unwrap_or(1);
        let aggregation = req.aggregation_interval.unwrap_or(60);
        if let Err(e) = validate_settings(sampling, aggregation) {
            let field = if req
                .sampling
                .is_some_and(|s| validate_settings(s, 60).is_err())
            {
                "sampling"
            } else {
                "aggregationInterval"
            };
            return Err(ServiceError::validation(field, e));
        }
        let now = self.now();
        let caller = caller.clone();
        let view = self
            .store
            .write(move |db| {
                let c = load_visible(db, &caller, &id)?;
                let sides = own_sides(db, &caller, &c)?;
                if sides.is_empty() {
                    return Err(ServiceError::not_found("connection", &id));
                }
                for ap in &sides {
                    if req.enabled {
                        db.set_flow_log(&FlowLogSettingRow {
                            connection_id: c.id.clone(),
                            attach_point_id: ap.id,
                            account_id: ap.account_id.clone(),
                            sampling,
                            aggregation_secs: aggregation,
                            enabled_at: now,
                        })?;
                    } else {
                        db.clear_flow_log(&c.id, &ap.id)?;
                    }
                }
                settings_view(db, &c, &sides)
            })
            .await?;
        self.config_changed();
        Ok(view)
    }

    /// The flow log of the caller's side(s) of a connection.
    pub async fn get_flow_log(&self, caller: &Caller, id: &str) -> Result<FlowLogSettings> {
        let id = parse_connection_id("id", id)?;
        let caller = caller.clone();
        self.store
            .read(move |db| {
                let c = load_visible(db, &caller, &id)?;
                let sides = own_sides(db, &caller, &c)?;
                settings_view(db, &c, &sides)
            })
            .await
    }

    /// The records of the caller's side(s) of a connection that the query wants, a page at a
    /// time in the order they arrived.
    pub async fn query_flow_logs(
        &self,
        caller: &Caller,
        id: &str,
        q: FlowLogQuery,
    ) -> Result<FlowLogPage> {
        let id = parse_connection_id("id", id)?;
        let now = self.now();
        let mut filter = parse_filter(&q, now)?;
        let limit = super::page_limit(q.max_results.map(|m| m as usize))?;
        let scope_text = format!("{filter:?}");
        let id_text = id.to_string();
        let scope = ["flow-logs", caller.account.as_str(), &id_text, &scope_text];
        filter.after = self.page_start(q.next_token.as_deref(), &scope)?;
        let caller = caller.clone();
        let mut rows = self
            .store
            .read(move |db| {
                let c = load_visible(db, &caller, &id)?;
                filter.attach_points = own_sides(db, &caller, &c)?
                    .into_iter()
                    .map(|a| a.id)
                    .collect();
                Ok::<_, ServiceError>(db.flow_logs(&c.id, &filter, limit + 1)?)
            })
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_token = more
            .then(|| rows.last().map(|r| self.page_token(r.id, &scope)))
            .flatten();
        Ok(FlowLogPage {
            records: rows
                .into_iter()
                .map(|r| FlowLogEntry {
                    connection_id: r.connection_id,
                    attach_point_id: r.attach_point_id,
                    record: r.record,
                })
                .collect(),
            next_token,
        })
    }

    /// Removes the records past their retention, a step at a time.
    pub async fn prune_flow_logs(&self) -> Result<usize> {
        let before = self.now() - RETENTION_SECS;
        self.prune_in_steps(PRUNE_STEP, move |db, step| db.prune_flow_logs(before, step))
            .await
    }

    /// Applies the retention once an hour until told to stop.
    pub(crate) async fn run_flow_log_retention(
        self: std::sync::Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        Service::every(
            "flow-log retention",
            std::time::Duration::from_secs(3600),
            stop,
            || async { self.prune_flow_logs().await.map(|_| ()) },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixture::fixture;
    use xc_types::flowlog::{LogStatus, VERSION};
    use xc_types::gateway::GatewayStatus;

    fn field_of(e: ServiceError) -> String {
        match e {
            ServiceError::Validation { field, .. } => field,
            other => panic!("expected a refusal naming a field, got {other:?}"),
        }
    }

    fn record(link: &str, dport: u16, action: FlowAction, start: i64) -> FlowLogRecord {
        FlowLogRecord {
            version: VERSION,
            account_id: "000000000000".into(),
            interface_id: link.into(),
            srcaddr: Some("10.1.0.5".parse().expect("addr")),
            dstaddr: Some("10.0.0.5".parse().expect("addr")),
            srcport: Some(40_000),
            dstport: Some(dport),
            protocol: Some(6),
            packets: Some(3),
            bytes: Some(180),
            start,
            end: start + 2,
            action: Some(action),
            log_status: LogStatus::Ok,
        }
    }

    #[tokio::test]
    async fn a_sides_flow_log_reaches_its_gateways_and_its_records_only_its_owner() {
        let f = fixture().await;
        let s = &f.service;
        s.reconcile_pass().await.expect("plan");
        let id = f.connection.to_string();
        let (gw_a, gw_b) = &f.gateways;
        let got = s.get_flow_log(&f.owner, &id).await.expect("get");
        assert_eq!(got.sides.len(), 1, "the owner's side only: {got:?}");
        assert!(!got.sides[0].enabled);

        let update = |sampling, aggregation_interval| FlowLogUpdate {
            enabled: true,
            sampling,
            aggregation_interval,
        };
        for (req, field) in [
            (update(Some(0), None), "sampling"),
            (update(Some(2_000_000), Some(10)), "sampling"),
            (update(None, Some(30)), "aggregationInterval"),
        ] {
            let e = s.set_flow_log(&f.owner, &id, req).await.expect_err("bad");
            assert_eq!(field_of(e), field);
        }
        let on = s
            .set_flow_log(&f.owner, &id, update(Some(1), Some(10)))
            .await
            .expect("on");
        assert!(on.sides[0].enabled);
        assert_eq!(on.sides[0].aggregation_interval, Some(10));

        // The owner's gateway logs every link of the connection; the other side's does not.
        let (_, doc) = s.gateway_config(gw_a).await.expect("config");
        let policy = doc.filters.expect("a flow log is in the filters");
        assert!(!doc.link.is_empty());
        for l in &doc.link {
            let spec = &policy.flow_logs[&l.name];
            assert_eq!(spec.interface_id, l.id.expect("id").to_string());
            assert_eq!(spec.account_id, f.owner.account.to_string());
            assert_eq!((spec.sampling, spec.aggregation_secs), (1, 10));
        }
        assert_eq!(
            s.gateway_config(gw_b).await.expect("config").1.filters,
            None
        );

        // Records come with the reports, each side's under its attach point; a record of a link
        // that is not the gateway's is dropped.
        let link = doc.link[0].id.expect("id").to_string();
        let now = s.now();
        let report = |gw: String, records: Vec<FlowLogRecord>| async move {
            s.gateway_report(
                &gw,
                "test".into(),
                GatewayStatus::default(),
                1,
                vec![],
                records,
            )
            .await
        };
        report(
            gw_a.clone(),
            vec![
                record(&link, 22, FlowAction::Accept, now - 30),
                record(&link, 23, FlowAction::Reject, now - 20),
                record("999999", 23, FlowAction::Reject, now - 20),
            ],
        )
        .await
        .expect("report");
        report(
            gw_b.clone(),
            vec![record(&link, 443, FlowAction::Accept, now - 20)],
        )
        .await
        .expect("report");
        let query = |action: Option<&str>| FlowLogQuery {
            action: action.map(str::to_owned),
            ..FlowLogQuery::default()
        };
        let mine = s
            .query_flow_logs(&f.owner, &id, query(None))
            .await
            .expect("query");
        assert_eq!(mine.records.len(), 2, "{mine:?}");
        assert!(
            mine.records
                .iter()
                .all(|r| r.record.account_id == f.owner.account.to_string())
        );
        let rejected = s
            .query_flow_logs(&f.owner, &id, query(Some("REJECT")))
            .await
            .expect("query");
        assert_eq!(rejected.records.len(), 1);
        assert_eq!(rejected.records[0].record.dstport, Some(23));
        assert_eq!(rejected.records[0].record.interface_id, link);
        let theirs = s
            .query_flow_logs(&f.remote, &id, query(None))
            .await
            .expect("query");
        assert_eq!(theirs.records.len(), 1);
        assert_eq!(theirs.records[0].record.dstport, Some(443));
        // A page at a time, in order, the token bound to the query.
        let page = s
            .query_flow_logs(
                &f.owner,
                &id,
                FlowLogQuery {
                    max_results: Some(1),
                    ..FlowLogQuery::default()
                },
            )
            .await
            .expect("page");
        assert_eq!(page.records[0].record.dstport, Some(22));
        let next = s
            .query_flow_logs(
                &f.owner,
                &id,
                FlowLogQuery {
                    max_results: Some(1),
                    next_token: page.next_token.clone(),
                    ..FlowLogQuery::default()
                },
            )
            .await
            .expect("next page");
        assert_eq!(next.records[0].record.dstport, Some(23));
        assert!(matches!(
            s.query_flow_logs(
                &f.owner,
                &id,
                FlowLogQuery {
                    next_token: page.next_token,
                    ..query(Some("ACCEPT"))
                },
            )
            .await,
            Err(ServiceError::Validation { .. })
        ));
        // Old records go with the retention.
        f.clock
            .0
            .fetch_add(RETENTION_SECS + 1, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(s.prune_flow_logs().await.expect("prune"), 3);

        let off = s
            .set_flow_log(
                &f.owner,
                &id,
                FlowLogUpdate {
                    enabled: false,
                    ..FlowLogUpdate::default()
                },
            )
            .await
            .expect("off");
        assert!(!off.sides[0].enabled);
        assert_eq!(
            s.gateway_config(gw_a).await.expect("config").1.filters,
            None
        );
    }
}
