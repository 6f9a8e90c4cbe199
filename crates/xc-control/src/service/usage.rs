//! Usage and cost: [`Service::meter`] meters each closed hour of every connection once (from its
//! history and its owner's side's traffic, at the prices then in force) into the store; a
//! statement ([`Service::usage`]) prices an account's metered month line by line with
//! [`crate::billing`], credits what the SLA owes and says what a VPN would have cost; the
//! operator sees every account's total; [`Service::compare_cost`] is the what-if.

use super::{Caller, Service};
use crate::billing::{self, Change, MeteredHour};
use crate::catalog::Prices;
use crate::{Result, ServiceError};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use xc_store::MeteredRow;
use xc_types::api::usage::*;
use xc_types::{AccountId, Bandwidth, ConnectionId};

/// How long after an hour ends it is metered: its gateways' last minutes have arrived by then
/// (a minute reported later than this is not billed).
pub const METER_DELAY_SECS: i64 = 900;

/// A quantity without the noise of binary fractions (to the micro-unit).
fn tidy(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `YYYY-MM` (default: the month of `now`) as its text and `[from, to)`.
fn month_bounds(month: Option<&str>, now: i64) -> Result<(String, i64, i64)> {
    let bad = || ServiceError::validation("month", "is a calendar month, YYYY-MM");
    let (year, m) = match month {
        Some(s) => {
            let (y, m) = s.split_once('-').ok_or_else(bad)?;
            if y.len() != 4 || m.len() != 2 {
                return Err(bad());
            }
            (
                y.parse::<i32>().map_err(|_| bad())?,
                m.parse::<u8>().map_err(|_| bad())?,
            )
        }
        None => {
            let t = OffsetDateTime::from_unix_timestamp(now).map_err(|_| bad())?;
            (t.year(), u8::from(t.month()))
        }
    };
    let start = |y: i32, m: u8| -> Result<i64> {
        let month = time::Month::try_from(m).map_err(|_| bad())?;
        let d = time::Date::from_calendar_date(y, month, 1).map_err(|_| bad())?;
        Ok(d.midnight().assume_utc().unix_timestamp())
    };
    let from = start(year, m)?;
    let to = if m == 12 {
        start(year + 1, 1)?
    } else {
        start(year, m + 1)?
    };
    Ok((format!("{year:04}-{m:02}"), from, to))
}

fn hour_of(r: MeteredRow) -> MeteredHour {
    MeteredHour {
        connection: r.connection_id,
        environment: r.environment,
        hour: r.hour,
        tiers: r.tiers,
        down_secs: r.down_secs,
        outages: r.outages,
        bytes_out: r.bytes_out,
        bytes_in: r.bytes_in,
        per_gb: r.per_gb,
    }
}

impl Service {
    /// Meters every hour that closed at least [`METER_DELAY_SECS`] ago and is not metered yet,
    /// one write per hour. Answers how many hours it metered.
    pub async fn meter(&self) -> Result<usize> {
        let ready = {
            let t = self.now() - METER_DELAY_SECS;
            t - t.rem_euclid(3600)
        };
        let mut metered = 0;
        loop {
            let start = self
                .store
                .read(|db| {
                    Ok::<_, ServiceError>(match db.meter_mark()? {
                        Some(m) => Some(m),
                        None => db.first_connection_at()?.map(|t| t - t.rem_euclid(3600)),
                    })
                })
                .await?;
            let Some(hour) = start.filter(|&h| h < ready) else {
                return Ok(metered);
            };
            // The prices in force in that hour, by environment (changes take effect at midnight,
            // so one hour has one price).
            let prices: BTreeMap<String, Prices> = self
                .catalog
                .environments()
                .iter()
                .filter_map(|e| {
                    self.catalog
                        .prices_at(e.id.as_str(), hour)
                        .map(|p| (e.id.as_str().to_owned(), p.clone()))
                })
                .collect();
            let done = self
                .store
                .write(move |db| {
                    // Another pass got there first: start again from its mark.
                    if db.meter_mark()?.is_some_and(|m| m != hour) {
                        return Ok::<_, ServiceError>(false);
                    }
                    for c in db.meterable(hour, hour + 3600)? {
                        let Ok(id) = ConnectionId::parse(&c.connection_id) else {
                            continue;
                        };
                        let history: Vec<Change> = db
                            .connection_events(&id)?
                            .into_iter()
                            .map(|e| Change {
                                at: e.at,
                                state: e.state,
                                bandwidth_mbps: e.bandwidth.mbps(),
                            })
                            .collect();
                        let m = billing::meter_hour(&history, hour);
                        if m.is_empty() {
                            continue;
                        }
                        let (bytes_out, bytes_in) =
                            db.owner_bytes(&c.connection_id, hour, hour + 3600)?;
                        // An environment gone from the catalog is metered at no price, and said.
                        let p = prices.get(&c.environment);
                        if p.is_none() {
                            tracing::warn!(connection = %c.connection_id, environment = %c.environment,
                                "metered at no price: the environment is not in the catalog");
                        }
                        db.insert_metered(&MeteredRow {
                            connection_id: c.connection_id,
                            hour,
                            account_id: c.account_id,
                            environment: c.environment,
                            billing_tier: c.billing_tier,
                            down_secs: m.down_secs,
                            outages: m.outages,
                            bytes_out,
                            bytes_in,
                            per_gb: p.map_or(0.0, |p| p.per_gb),
                            tiers: m
                                .billable
                                .iter()
                                .map(|(&bw, &secs)| {
                                    let price = p
                                        .and_then(|p| p.hourly.get(&bw).copied())
                                        .unwrap_or(0.0);
                                    (bw, secs, price)
                                })
                                .collect(),
                        })?;
                    }
                    db.set_meter_mark(hour + 3600)?;
                    Ok(true)
                })
                .await?;
            if done {
                metered += 1;
            }
        }
    }

    /// Meters once a minute until told to stop.
    pub(crate) async fn run_metering(
        self: std::sync::Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        Service::every(
            "metering",
            std::time::Duration::from_secs(60),
            stop,
            || async { self.meter().await.map(|_| ()) },
        )
        .await;
    }

    /// The account a usage request is about: a tenant's own; the operator's named one.
    fn usage_account(&self, caller: &Caller, asked: Option<&str>) -> Result<AccountId> {
        match asked {
            None => Ok(caller.account.clone()),
            Some(a) if a == caller.account.as_str() => Ok(caller.account.clone()),
            Some(a) if caller.is_operator() => {
                AccountId::parse(a).map_err(|e| ServiceError::validation("accountId", e))
            }
            Some(_) => Err(ServiceError::AccessDenied(
                "only the operator may read another account's usage".into(),
            )),
        }
    }

    /// An account's statement for a month (default: this one, to date).
    pub async fn usage(&self, caller: &Caller, q: UsageQuery) -> Result<Statement> {
        let account = self.usage_account(caller, q.account_id.as_deref())?;
        let (month, from, to) = month_bounds(q.month.as_deref(), self.now())?;
        self.statement(account.as_str(), month, from, to).await
    }

    async fn statement(
        &self,
        account: &str,
        month: String,
        from: i64,
        to: i64,
    ) -> Result<Statement> {
        let acct = account.to_owned();
        let (rows, mark) = self
            .store
            .read(move |db| Ok::<_, ServiceError>((db.metered(&acct, from, to)?, db.meter_mark()?)))
            .await?;
        let metered_through = mark.unwrap_or(from).clamp(from, to);
        // Each connection's environment and its bandwidth at the end of what is metered.
        let mut sized: BTreeMap<String, (String, u64)> = BTreeMap::new();
        for r in &rows {
            if let Some(&(bw, _, _)) = r.tiers.iter().max_by_key(|t| t.1) {
                sized.insert(r.connection_id.clone(), (r.environment.clone(), bw));
            }
        }
        let right_sizing = self.right_sizing(sized, from, metered_through).await?;
        let hours: Vec<MeteredHour> = rows.into_iter().map(hour_of).collect();
        let sla = self.catalog.sla();
        let windows = self.sla_windows(from, to).await?;
        let (lines, credits) = billing::statement(&hours, sla, &windows);
        let subtotal = billing::cents(lines.iter().map(|l| l.amount).sum());
        let credited = billing::cents(credits.iter().map(|c| c.amount).sum());
        // The same connections over a VPN (as many as their largest bandwidth needs, for their
        // billable hours) and their data sent over public transfer.
        let mut per_connection: BTreeMap<&str, (f64, u64, f64)> = BTreeMap::new();
        let mut days: BTreeMap<i64, f64> = BTreeMap::new();
        for h in &hours {
            let e = per_connection.entry(&h.connection).or_default();
            for &(bw, secs, price) in &h.tiers {
                e.0 += secs as f64 / 3600.0;
                e.1 = e.1.max(bw);
                *days.entry(h.hour.div_euclid(86_400)).or_default() += secs as f64 / 3600.0 * price;
            }
            e.2 += h.bytes_out as f64 / billing::BYTES_PER_GB;
            *days.entry(h.hour.div_euclid(86_400)).or_default() +=
                (h.bytes_out + h.bytes_in) as f64 / billing::BYTES_PER_GB * h.per_gb;
        }
        let over_vpn = self.catalog.vpn().map(|vpn| Alternative {
            name: vpn.name.clone(),
            amount: billing::cents(
                per_connection
                    .values()
                    .map(|&(hours, bw, gb)| billing::over_vpn(vpn, bw, hours, gb))
                    .sum(),
            ),
        });
        let over_public = self.catalog.public().map(|p| Alternative {
            name: p.name.clone(),
            amount: billing::cents(
                per_connection
                    .values()
                    .map(|&(_, _, gb)| billing::over_public(p, gb))
                    .sum(),
            ),
        });
        let date = |day: i64| {
            OffsetDateTime::from_unix_timestamp(day * 86_400)
                .map(|t| t.date().to_string())
                .unwrap_or_default()
        };
        Ok(Statement {
            account: account.to_owned(),
            month,
            currency: self.catalog.currency().to_owned(),
            month_to_date: metered_through < to,
            metered_through: super::fmt_time(metered_through),
            lines: lines
                .into_iter()
                .map(|l| {
                    let kind = match l.kind {
                        billing::LineKind::ConnectionHours => LineKind::ConnectionHours,
                        billing::LineKind::DataTransferOut => LineKind::DataTransferOut,
                        billing::LineKind::DataTransferIn => LineKind::DataTransferIn,
                    };
                    StatementLine {
                        connection_id: l.connection,
                        kind,
                        bandwidth: l
                            .bandwidth_mbps
                            .map(|b| Bandwidth::from_mbps(b).to_string()),
                        quantity: tidy(l.quantity),
                        unit: kind.unit().to_owned(),
                        unit_price: l.unit_price,
                        amount: l.amount,
                    }
                })
                .collect(),
            credits: credits
                .into_iter()
                .map(|c| StatementCredit {
                    connection_id: c.connection,
                    availability_percent: tidy(c.availability_percent),
                    excluded_minutes: tidy(c.excluded_minutes),
                    sla_percent: sla.target_percent,
                    credit_percent: c.credit_percent,
                    amount: c.amount,
                    outages: c
                        .outages
                        .into_iter()
                        .map(|(s, e)| Outage {
                            start: super::fmt_time(s),
                            end: super::fmt_time(e),
                            minutes: tidy((e - s) as f64 / 60.0),
                        })
                        .collect(),
                })
                .collect(),
            subtotal,
            total: billing::cents(subtotal - credited),
            over_vpn,
            over_public,
            days: days
                .into_iter()
                .map(|(d, amount)| DayAmount {
                    date: date(d),
                    amount: billing::cents(amount),
                })
                .collect(),
            right_sizing,
        })
    }

    /// Each connection's utilisation from `from` to `to` (its owner's side's traffic in 5-minute
    /// periods, the busier way) against its bandwidth, and advice priced at today's prices.
    async fn right_sizing(
        &self,
        connections: BTreeMap<String, (String, u64)>,
        from: i64,
        to: i64,
    ) -> Result<Vec<RightSizing>> {
        let mut out = Vec::new();
        for (connection, (environment, mbps)) in connections {
            let Ok(id) = ConnectionId::parse(&connection) else {
                continue;
            };
            let rows = self
                .store
                .read(move |db| super::metrics::rows_at(db, &id, false, 300, from, to))
                .await?;
            let mut periods: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
            for r in rows {
                let p = periods
                    .entry(r.minute - r.minute.rem_euclid(300))
                    .or_default();
                p.0 += r.sample.tx_bytes;
                p.1 += r.sample.rx_bytes;
            }
            let rates: Vec<f64> = periods
                .values()
                .map(|&(tx, rx)| tx.max(rx) as f64 * 8.0 / 300.0)
                .collect();
            let Some(u) = billing::utilisation(&rates, mbps as f64 * 1e6) else {
                continue;
            };
            let offered: BTreeMap<u64, f64> = match (
                self.catalog.environment(&environment),
                self.catalog.prices_at(&environment, self.now()),
            ) {
                (Some(e), Some(p)) => e
                    .supported_bandwidths
                    .iter()
                    .filter_map(|b| p.hourly.get(&b.mbps()).map(|&price| (b.mbps(), price)))
                    .collect(),
                _ => BTreeMap::new(),
            };
            let bw = Bandwidth::from_mbps(mbps).to_string();
            let p95_percent = tidy(100.0 * u.p95_bps / (mbps as f64 * 1e6));
            let above = tidy(100.0 * u.above_90);
            let currency = self.catalog.currency();
            let (advice, suggested, change, message) = match billing::size(&u, mbps, &offered) {
                billing::Sizing::Keep => (
                    SizingAdvice::Keep,
                    None,
                    None,
                    format!("p95 is {p95_percent:.0}% of {bw}: it fits"),
                ),
                billing::Sizing::Smaller { mbps: to, saves } => {
                    let to = Bandwidth::from_mbps(to).to_string();
                    (
                        SizingAdvice::Smaller,
                        Some(to.clone()),
                        Some(-saves),
                        format!(
                            "p95 is {p95_percent:.0}% of {bw}: {to} would carry it and save {saves:.2} {currency} a month"
                        ),
                    )
                }
                billing::Sizing::Larger { mbps: to, costs } => {
                    let to = Bandwidth::from_mbps(to).to_string();
                    (
                        SizingAdvice::Larger,
                        Some(to.clone()),
                        Some(costs),
                        format!(
                            "above 90% of {bw} for {above:.0}% of the 5-minute periods: consider {to} ({costs:.2} {currency} more a month)"
                        ),
                    )
                }
            };
            out.push(RightSizing {
                connection_id: connection,
                bandwidth: bw,
                p95_bps: tidy(u.p95_bps),
                p95_percent,
                above90_percent: above,
                periods: u.periods as u64,
                advice,
                suggested_bandwidth: suggested,
                monthly_change: change,
                message,
            });
        }
        Ok(out)
    }

    /// Every account's total for a month (operator).
    pub async fn account_usage(&self, caller: &Caller, q: UsageQuery) -> Result<UsageSummary> {
        caller.require_operator()?;
        if q.account_id.is_some() {
            return Err(ServiceError::validation(
                "accountId",
                "is not taken here: GET /v1/usage?accountId= is one account's statement",
            ));
        }
        let (month, from, to) = month_bounds(q.month.as_deref(), self.now())?;
        let accounts = self
            .store
            .read(move |db| Ok::<_, ServiceError>(db.metered_accounts(from, to)?))
            .await?;
        let mut list = Vec::new();
        let mut month_to_date = false;
        for a in accounts {
            let s = self.statement(&a, month.clone(), from, to).await?;
            month_to_date = s.month_to_date;
            list.push(AccountTotal {
                account: a,
                subtotal: s.subtotal,
                credits: billing::cents(s.subtotal - s.total),
                total: s.total,
            });
        }
        Ok(UsageSummary {
            month,
            currency: self.catalog.currency().to_owned(),
            month_to_date,
            total: billing::cents(list.iter().map(|a| a.total).sum()),
            accounts: list,
        })
    }

    /// A connection that does not exist yet, a month (730 hours) at today's prices: over the
    /// interconnect, over a site-to-site VPN and over public transfer.
    pub fn compare_cost(&self, q: &CostCompareQuery) -> Result<CostComparison> {
        let env = self.environment(&q.environment_id)?;
        let bw =
            Bandwidth::parse(&q.bandwidth).map_err(|e| ServiceError::validation("bandwidth", e))?;
        if !env.supported_bandwidths.contains(&bw) {
            return Err(ServiceError::validation(
                "bandwidth",
                format!("{} is not offered in {}", bw, env.id.as_str()),
            ));
        }
        let gb = q.gb_per_month;
        if !(gb.is_finite() && (0.0..=1e12).contains(&gb)) {
            return Err(ServiceError::validation(
                "gbPerMonth",
                "is a number of GB from 0 to 10^12",
            ));
        }
        let prices = self
            .catalog
            .prices_at(env.id.as_str(), self.now())
            .ok_or_else(|| ServiceError::Internal("the environment has no prices".into()))?;
        let hours = billing::HOURS_PER_MONTH;
        let hourly = prices.hourly.get(&bw.mbps()).copied().unwrap_or(0.0);
        let way = |name: &str, fixed: f64, per_gb: f64| WayCost {
            name: name.to_owned(),
            fixed: billing::cents(fixed),
            per_gb: billing::cents(per_gb),
            total: billing::cents(fixed + per_gb),
        };
        let interconnect = way(
            &format!("xconnect {} {}", env.id.as_str(), bw),
            hourly * hours,
            gb * prices.per_gb,
        );
        let vpn = self.catalog.vpn().map(|v| {
            let n = billing::vpn_connections(v, bw.mbps());
            (
                n,
                v,
                way(&v.name, n as f64 * v.hourly * hours, gb * v.per_gb),
            )
        });
        let public = self
            .catalog
            .public()
            .map(|p| (p, way(&p.name, 0.0, gb * p.per_gb)));
        let fixed = hourly * hours;
        let round = |v: f64| (v * 10.0).round() / 10.0;
        Ok(CostComparison {
            environment_id: env.id.as_str().to_owned(),
            bandwidth: bw.to_string(),
            gb_per_month: gb,
            currency: self.catalog.currency().to_owned(),
            hours,
            break_even_gb_vs_vpn: vpn.as_ref().and_then(|(n, v, _)| {
                billing::break_even_gb(fixed, prices.per_gb, *n as f64 * v.hourly * hours, v.per_gb)
                    .map(round)
            }),
            break_even_gb_vs_public: public.as_ref().and_then(|(p, _)| {
                billing::break_even_gb(fixed, prices.per_gb, 0.0, p.per_gb).map(round)
            }),
            vpn_connections: vpn.as_ref().map(|(n, _, _)| *n),
            vpn: vpn.map(|(_, _, w)| w),
            public: public.map(|(_, w)| w),
            interconnect,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        let (m, from, to) = month_bounds(Some("2026-11"), 0).expect("month");
        assert_eq!(
            (m.as_str(), from, to),
            ("2026-11", 1_793_491_200, 1_796_083_200)
        );
        let (m, _, to) = month_bounds(Some("2026-12"), 0).expect("december");
        assert_eq!((m.as_str(), to), ("2026-12", 1_798_761_600));
        let (m, ..) = month_bounds(None, 1_793_491_200 + 86_400).expect("now");
        assert_eq!(m, "2026-11");
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "x"] {
            assert!(month_bounds(Some(bad), 0).is_err(), "{bad}");
        }
    }
}
