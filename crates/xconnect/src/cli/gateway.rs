//! `xconnect gateway token|list|get|delete|status`: the gateways as the control plane knows
//! them, and a running gateway's own status (its admin endpoint). `gateway run` is the agent
//! itself (`src/gateway.rs`).

use crate::output::{Format, columns, print_list, print_object};
use anyhow::{Context, bail};
use serde_json::json;
use xc_client::Client;
use xc_types::gateway::{
    AccessStatus, GatewayStatus, GatewayView, LinkStatus, NeighborStatus, PathMtuState,
    RouteStatus, RuleHits, TokenRequest,
};

pub async fn token(
    c: &Client,
    out: Format,
    attach_point: Option<String>,
    facility: Option<String>,
) -> anyhow::Result<()> {
    let req = TokenRequest {
        attach_point_id: attach_point,
        facility,
    };
    print_object(out, &c.create_gateway_token(&req).await?)
}

pub async fn list(c: &Client, out: Format) -> anyhow::Result<()> {
    let list = c.list_gateways().await?;
    let cols = columns![GatewayView;
        "id" => |g| json!(g.id),
        "name" => |g| json!(g.name),
        "attachPoint" => |g| json!(g.attach_point_id),
        "facility" => |g| json!(g.facility),
        "underlay" => |g| json!(g.underlay_address),
        "version" => |g| json!(g.version),
        "lastContact" => |g| json!(g.last_contact_age_secs.map(|s| format!("{s}s ago"))),
        "links" => |g| json!(g.status.as_ref().map(|s| s.links.len())),
    ];
    print_list(out, &list, &list.gateways, cols)
}

pub async fn get(c: &Client, out: Format, id: &str) -> anyhow::Result<()> {
    print_object(out, &c.get_gateway(id).await?)
}

pub async fn delete(c: &Client, out: Format, id: &str) -> anyhow::Result<()> {
    print_object(out, &c.delete_gateway(id).await?)
}

/// A running gateway's status, from its admin endpoint: links, VLAN sub-interfaces, BGP
/// neighbours and routes.
pub async fn status(admin: &str, out: Format) -> anyhow::Result<()> {
    let url = format!("http://{admin}/status");
    let resp = reqwest::get(&url)
        .await
        .with_context(|| format!("cannot reach the gateway at {url}"))?;
    if !resp.status().is_success() {
        bail!("{url} answered HTTP {}", resp.status());
    }
    let st: GatewayStatus = resp.json().await?;
    if matches!(out, Format::Json) {
        return print_object(out, &st);
    }
    if !st.links.is_empty() || (st.bgp.is_none() && st.access.is_empty()) {
        let cols = columns![LinkStatus;
            "link" => |l| json!(l.name),
            "tap" => |l| json!(l.tap),
            "mtu" => |l| json!(l.mtu),
            "pathMtu" => |l| json!(match l.path_mtu.state {
                PathMtuState::Reduced => format!("reduced from {}", l.path_mtu.configured),
                s => s.to_string(),
            }),
            "cipher" => |l| json!(l.cipher),
            "mka" => |l| json!(l.mka.state),
            "keyServer" => |l| json!(if l.mka.key_server { "self" } else { "peer" }),
            "an" => |l| json!(l.mka.current_an),
            "keyAge" => |l| json!(l.mka.key_age_secs.map(|s| format!("{s}s"))),
            "rotations" => |l| json!(l.mka.rotations),
            "txPackets" => |l| json!(l.counters.tx_packets),
            "rxPackets" => |l| json!(l.counters.rx_packets),
            "reason" => |l| json!(l.mka.reason),
        ];
        print_list(out, &st, &st.links, cols)?;
    }
    if !st.access.is_empty() {
        println!("\nVLAN sub-interfaces (802.1Q)");
        let cols = columns![AccessStatus;
            "interface" => |a| json!(a.name),
            "vlan" => |a| json!(a.vlan),
            "layer3" => |a| json!((!a.addresses.is_empty()).then(|| a.addresses.join(" "))),
            "bridge" => |a| json!(a.bridge),
            "txPackets" => |a| json!(a.tx_packets),
            "rxPackets" => |a| json!(a.rx_packets),
            "malformed" => |a| json!(a.rx_malformed),
        ];
        print_list(out, &st, &st.access, cols)?;
    }
    if let Some(bgp) = &st.bgp {
        println!(
            "\nBGP AS {} router id {}, announcing {}",
            bgp.asn,
            bgp.router_id,
            bgp.announced.join(", ")
        );
        let cols = columns![NeighborStatus;
            "neighbor" => |n| json!(n.address),
            "as" => |n| json!(n.remote_asn),
            "state" => |n| json!(n.state),
            "uptime" => |n| json!(n.uptime_secs.map(|s| format!("{s}s"))),
            "received" => |n| json!(n.prefixes_received),
            "accepted" => |n| json!(n.prefixes_accepted),
            "sent" => |n| json!(n.prefixes_sent),
            "refused" => |n| json!(n.prefixes_refused_total),
            "bfd" => |n| json!(n.bfd.as_ref().map(|b| b.state)),
            "md5" => |n| json!(if n.md5 { "yes" } else { "no" }),
            "lastError" => |n| json!(n.problem()),
        ];
        print_list(out, &st, &bgp.neighbors, cols)?;
        println!(
            "\nRoutes in the kernel: {} ({} prefixes in the Loc-RIB){}",
            bgp.routes_installed,
            bgp.loc_rib,
            if bgp.routes_installed > bgp.routes.len() {
                format!(", first {} shown", bgp.routes.len())
            } else {
                String::new()
            }
        );
        let cols = columns![RouteStatus;
            "prefix" => |r| json!(r.prefix),
            "nextHops" => |r| json!(r.next_hops),
        ];
        print_list(out, &st, &bgp.routes, cols)?;
    }
    if let Some(f) = &st.filters {
        let d = &f.drops;
        println!(
            "\nFilters: {} security group(s){}; {} of {} flows tracked; dropped: {} by the ACL, {} without a rule, {} with the table full, {} fragments, {} malformed",
            f.security_groups,
            f.network_acl
                .as_ref()
                .map(|a| format!(", network ACL {a}"))
                .unwrap_or_default(),
            f.flows,
            f.flow_capacity,
            d.acl_deny,
            d.no_rule,
            d.table_full,
            d.fragment,
            d.malformed
        );
        let s = &f.shared;
        if s.sent + s.adopted + s.dropped + s.refused > 0 {
            println!(
                "Flows shared with the attach point's other gateways: {} sent, {} not sent (queue full), {} adopted, {} refused",
                s.sent, s.dropped, s.adopted, s.refused
            );
        }
        let cols = columns![RuleHits;
            "rule" => |r| json!(r.rule),
            "action" => |r| json!(r.action),
            "hits" => |r| json!(r.hits),
        ];
        print_list(out, &st, &f.rules, cols)?;
    }
    if st.busy_poll_us == 0 {
        println!("\nBusy polling: off (each link sleeps as soon as it has nothing to do)");
    }
    if st.idle_poll_ms > 0 {
        println!(
            "\nIdle polling: the cores poll for {} ms after the links last carried a frame",
            st.idle_poll_ms
        );
    }
    Ok(())
}
