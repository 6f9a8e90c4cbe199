//! `xconnect usage show` (a month's statement, or every account's total for the operator) and
//! `xconnect cost compare` (a connection against a VPN and public transfer).

use crate::output::{Format, columns, csv_row, print_list, print_object};
use serde_json::json;
use xc_client::Client;
use xc_types::api::maintenance::{CreateMaintenanceRequest, MaintenanceWindow};
use xc_types::api::usage::{
    AccountTotal, CostCompareQuery, CostComparison, Statement, StatementLine, UsageQuery,
};

#[derive(Debug, clap::Subcommand)]
pub enum UsageVerb {
    /// A month's statement: connection hours and data transfer priced line by line, the SLA's
    /// credits with the outages, the total, and what a VPN would have cost. The operator
    /// without --account sees every account's total.
    Show {
        /// The calendar month, YYYY-MM (UTC); default: this month, to date.
        #[arg(long)]
        month: Option<String>,
        /// The account (operator).
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum CostVerb {
    /// A connection a month (730 hours) at today's prices, over xconnect, a site-to-site VPN
    /// and public transfer, with the monthly GB above which it pays off.
    Compare {
        /// The environment (`xconnect environment list`).
        #[arg(long)]
        environment: String,
        /// 1Gbps, 500Mbps, ...
        #[arg(long)]
        bandwidth: String,
        /// GB sent a month.
        #[arg(long)]
        gb_per_month: f64,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum MaintenanceVerb {
    /// Announce a window when connections may be interrupted (operator). Announced a day or
    /// more ahead (the catalog's [sla] maintenance_notice_hours), it is left out of the SLA.
    Create {
        /// When it begins, RFC 3339 (2026-12-10T02:00:00Z), in the future.
        #[arg(long)]
        start: String,
        /// When it ends, at most 7 days later.
        #[arg(long)]
        end: String,
        /// What is done and what it means for connections.
        #[arg(long)]
        description: String,
        /// Only this environment's connections (default: every connection).
        #[arg(long)]
        environment: Option<String>,
    },
    /// The windows that have not ended, soonest first.
    List,
    /// Withdraw a window that has not begun (operator).
    Delete { id: String },
}

pub async fn run_maintenance(c: &Client, out: Format, verb: MaintenanceVerb) -> anyhow::Result<()> {
    match verb {
        MaintenanceVerb::Create {
            start,
            end,
            description,
            environment,
        } => {
            let w = c
                .create_maintenance(&CreateMaintenanceRequest {
                    start,
                    end,
                    description,
                    environment_id: environment,
                })
                .await?;
            print_object(out, &w)
        }
        MaintenanceVerb::List => {
            let list = c.list_maintenance().await?;
            let cols = columns![MaintenanceWindow;
                "id" => |w| json!(w.id),
                "start" => |w| json!(w.start),
                "end" => |w| json!(w.end),
                "environment" => |w| json!(w.environment_id.as_deref().unwrap_or("all")),
                "excludedFromSla" => |w| json!(w.excluded_from_sla),
                "description" => |w| json!(w.description),
            ];
            print_list(out, &list, &list.windows, cols)
        }
        MaintenanceVerb::Delete { id } => print_object(out, &c.delete_maintenance(&id).await?),
    }
}

fn money(currency: &str, v: f64) -> String {
    match currency {
        "USD" => format!("${v:.2}"),
        "EUR" => format!("€{v:.2}"),
        other => format!("{v:.2} {other}"),
    }
}

fn print_statement(out: Format, s: &Statement) -> anyhow::Result<()> {
    let cols = columns![StatementLine;
        "connectionId" => |l| json!(l.connection_id),
        "kind" => |l| json!(l.kind.as_str()),
        "bandwidth" => |l| json!(l.bandwidth),
        "quantity" => |l| json!(l.quantity),
        "unit" => |l| json!(l.unit),
        "unitPrice" => |l| json!(l.unit_price),
        "amount" => |l| json!(l.amount),
    ];
    match out {
        Format::Json => print_object(out, s),
        Format::Csv => {
            // The lines, then each credit as a negative line, then the total.
            print_list(out, s, &s.lines, cols)?;
            for c in &s.credits {
                println!(
                    "{}",
                    csv_row(&[
                        c.connection_id.as_str(),
                        "sla-credit",
                        "",
                        &c.credit_percent.to_string(),
                        "percent",
                        "",
                        &format!("{:.2}", -c.amount),
                    ])
                );
            }
            println!(
                "{}",
                csv_row(&["", "total", "", "", "", "", &format!("{:.2}", s.total)])
            );
            Ok(())
        }
        Format::Table | Format::Text => {
            println!(
                "Statement of account {} for {} ({}{})",
                s.account,
                s.month,
                s.currency,
                if s.month_to_date {
                    format!(", to date: metered through {}", s.metered_through)
                } else {
                    String::new()
                }
            );
            println!();
            print_list(out, s, &s.lines, cols)?;
            let m = |v: f64| money(&s.currency, v);
            println!();
            println!("subtotal  {}", m(s.subtotal));
            for c in &s.credits {
                println!(
                    "credit    -{}  {}: available {:.4}% of the month against the SLA's {}%, {}% of its hours back{}",
                    m(c.amount),
                    c.connection_id,
                    c.availability_percent,
                    c.sla_percent,
                    c.credit_percent,
                    if c.excluded_minutes > 0.0 {
                        format!(
                            " ({} min of announced maintenance left out)",
                            c.excluded_minutes
                        )
                    } else {
                        String::new()
                    }
                );
                for o in &c.outages {
                    println!(
                        "          down {} to {} ({} min)",
                        o.start, o.end, o.minutes
                    );
                }
            }
            println!("total     {}", m(s.total));
            if let Some(v) = &s.over_vpn {
                println!();
                println!("this month over a VPN: {} ({})", m(v.amount), v.name);
            }
            if let Some(p) = &s.over_public {
                println!("over public transfer: {} ({})", m(p.amount), p.name);
            }
            if !s.right_sizing.is_empty() {
                println!();
                for r in &s.right_sizing {
                    println!("{}: {}", r.connection_id, r.message);
                }
            }
            Ok(())
        }
    }
}

pub async fn run_usage(c: &Client, out: Format, verb: UsageVerb) -> anyhow::Result<()> {
    let UsageVerb::Show { month, account } = verb;
    let q = UsageQuery {
        month,
        account_id: account,
    };
    if q.account_id.is_none() && c.whoami().await?.operator {
        let summary = c.account_usage(&q).await?;
        let cols = columns![AccountTotal;
            "account" => |a| json!(a.account),
            "subtotal" => |a| json!(a.subtotal),
            "credits" => |a| json!(a.credits),
            "total" => |a| json!(a.total),
        ];
        print_list(out, &summary, &summary.accounts, cols)?;
        if out.for_people() {
            println!(
                "\n{} accounts, {}: {}{}",
                summary.accounts.len(),
                summary.month,
                money(&summary.currency, summary.total),
                if summary.month_to_date {
                    " (to date)"
                } else {
                    ""
                }
            );
        }
        return Ok(());
    }
    let s = c.usage(&q).await?;
    print_statement(out, &s)
}

fn print_comparison(out: Format, c: &CostComparison) -> anyhow::Result<()> {
    if !out.for_people() {
        return print_object(out, c);
    }
    let m = |v: f64| money(&c.currency, v);
    println!(
        "{} at {} with {} GB a month ({} hours):",
        c.environment_id, c.bandwidth, c.gb_per_month, c.hours
    );
    let mut ways = vec![("xconnect", &c.interconnect)];
    if let Some(v) = &c.vpn {
        ways.push(("VPN", v));
    }
    if let Some(p) = &c.public {
        ways.push(("public", p));
    }
    for (label, w) in ways {
        println!(
            "  {label:<9} {:>12}  ({} by the hour + {} by the GB)  {}",
            m(w.total),
            m(w.fixed),
            m(w.per_gb),
            w.name
        );
    }
    if let Some(n) = c.vpn_connections {
        println!("  (the VPN takes {n} connection(s) for {})", c.bandwidth);
    }
    match c.break_even_gb_vs_vpn {
        Some(gb) => println!("cheaper than the VPN above {gb} GB a month"),
        None if c.vpn.is_some() => println!(
            "{} than the VPN at any volume",
            if c.vpn
                .as_ref()
                .is_some_and(|v| v.total >= c.interconnect.total)
            {
                "cheaper"
            } else {
                "dearer"
            }
        ),
        None => {}
    }
    if let Some(gb) = c.break_even_gb_vs_public {
        println!("cheaper than public transfer above {gb} GB a month");
    }
    Ok(())
}

pub async fn run_cost(c: &Client, out: Format, verb: CostVerb) -> anyhow::Result<()> {
    let CostVerb::Compare {
        environment,
        bandwidth,
        gb_per_month,
    } = verb;
    let r = c
        .compare_cost(&CostCompareQuery {
            environment_id: environment,
            bandwidth,
            gb_per_month,
        })
        .await?;
    print_comparison(out, &r)
}
