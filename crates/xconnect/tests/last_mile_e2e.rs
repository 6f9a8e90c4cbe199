//! Last mile end to end, in network namespaces: a tenant ("acme", 10.0.0.0/16, one managed
//! gateway), a provider ("lumen") whose two edges stand in the two facilities of
//! `lumen-chicago`, and an on-premises site whose customer router (BIRD or FRR) sits on the
//! provider's fabric, one uplink to each edge.
//!
//! ```text
//!   tenant ns: server, gateway gw-t1 (lo 10.0.0.1/16), underlay bridge 10.210.0.1/24
//!      ├── veth ── edge1 ns: gateway edge1 (10.210.0.11), customer-facing `cust`
//!      └── veth ── edge2 ns: gateway edge2 (10.210.0.12), customer-facing `cust`
//!   cpe ns: up1 ── edge1 cust, up2 ── edge2 cust; the VLAN sub-interfaces up1.V / up2.V
//!           (xconnect's user-space 802.1Q: the kernel here has none), BIRD or FRR, and the
//!           on-premises network 10.50.0.1/24 on lo
//! ```
//! The tenant creates the connection with the site's details, the provider accepts it with the
//! activation key, and the test wires the customer router from what the connection shows (its
//! VLAN and peering addresses), as a customer would. Needs root, iproute2, ping, BIRD and FRR
//! (`.ci/run` installs them).

mod netns;

use netns::{Daemon, Topo, chown, frr_daemon, wait_for};
use serde_json::Value;
use std::time::Duration;

const UP: Duration = Duration::from_secs(90);
const SERVER: &str = "10.210.0.1";
const ONPREM: &str = "10.50.0.1";
const VPC: &str = "10.0.0.1";
const ONPREM6: &str = "fd00:50::1";
const VPC6: &str = "fd00:a::1";

#[derive(Clone)]
struct Creds {
    key: String,
    secret: String,
}

/// What the test needs of a created connection.
struct Site {
    id: String,
    vlan: u64,
    /// (provider address with length, customer address), per session.
    peerings: Vec<(String, String)>,
    /// The same of each session's IPv6 session, when the site carries IPv6.
    peerings6: Vec<(String, String)>,
    /// The tenant's attach point.
    attach_point: String,
}

struct Lab {
    /// Daemons first: they are stopped before the namespaces go.
    daemons: Vec<Daemon>,
    topo: Topo,
    endpoint: String,
}

impl Lab {
    fn new(tag: &str) -> Self {
        let topo = Topo::new(tag, &["tenant", "edge1", "edge2", "cpe"]);
        topo.exec_ok("tenant", &["ip", "link", "add", "ul", "type", "bridge"]);
        topo.exec_ok(
            "tenant",
            &["ip", "addr", "add", "10.210.0.1/24", "dev", "ul"],
        );
        topo.exec_ok("tenant", &["ip", "link", "set", "ul", "up"]);
        topo.exec_ok("tenant", &["ip", "addr", "add", "10.0.0.1/16", "dev", "lo"]);
        for (i, edge) in ["edge1", "edge2"].iter().enumerate() {
            let port = format!("ul-e{}", i + 1);
            topo.wire(
                "tenant",
                &port,
                None,
                edge,
                "ul",
                Some(&format!("10.210.0.1{}/24", i + 1)),
            );
            topo.exec_ok("tenant", &["ip", "link", "set", &port, "master", "ul"]);
            topo.wire(edge, "cust", None, "cpe", &format!("up{}", i + 1), None);
        }
        topo.exec_ok("cpe", &["ip", "addr", "add", "10.50.0.1/24", "dev", "lo"]);
        Lab {
            daemons: Vec::new(),
            topo,
            endpoint: format!("http://{SERVER}:7700"),
        }
    }

    fn spawn(&mut self, node: &str, name: &str, args: &[&str]) {
        let d = self.topo.spawn(node, name, args);
        self.daemons.push(d);
    }

    fn stop(&mut self, name: &str) {
        if let Some(i) = self.daemons.iter().position(|d| d.name == name) {
            let mut d = self.daemons.remove(i);
            d.stop();
        }
    }

    fn context(&self) -> String {
        let mut s = String::new();
        for d in &self.daemons {
            let log = d.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            s += &format!("--- {} (newest first)\n{}\n", d.name, tail.join("\n"));
        }
        for n in ["tenant", "edge1", "edge2", "cpe"] {
            s += &format!("--- routes {n}\n{}", self.topo.routes(n));
            s += &format!("--- IPv6 routes {n}\n{}", self.topo.routes6(n));
        }
        s
    }

    fn wait(&self, what: &str, f: impl FnMut() -> bool) {
        wait_for(what, UP, f, || self.context());
    }

    /// Runs the CLI in the tenant namespace and returns its JSON output.
    fn cli(&self, who: &Creds, args: &[&str]) -> Result<Value, String> {
        netns::cli_json(
            &self.topo.ns("tenant"),
            &self.endpoint,
            &who.key,
            &who.secret,
            args,
        )
    }

    fn ok(&self, who: &Creds, args: &[&str]) -> Value {
        self.cli(who, args)
            .unwrap_or_else(|e| panic!("xconnect {args:?}: {e}\n{}", self.context()))
    }

    fn start_gateway(&mut self, node: &str, token: &str, underlay: &str, access: bool) {
        let state = self
            .topo
            .path(&format!("{node}-state"))
            .display()
            .to_string();
        let endpoint = self.endpoint.clone();
        let mut args = vec![
            env!("CARGO_BIN_EXE_xconnect"),
            "gateway",
            "run",
            "--controller",
            &endpoint,
            "--underlay-address",
            underlay,
            "--name",
            node,
            "--state-dir",
            &state,
            "--token",
            token,
            "--log",
            "info,xc_gateway=debug",
        ];
        if access {
            args.extend(["--access-interface", "cust"]);
        }
        self.spawn(node, node, &args);
    }

    /// Server, tenant and provider accounts, the tenant's attach point and gateway, and the
    /// provider's two edges (registered by the operator with facility tokens).
    fn provision(&mut self) -> (Creds, Creds, String, String) {
        let data = self.topo.path("server").display().to_string();
        self.spawn(
            "tenant",
            "server",
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "server",
                "--listen",
                &format!("{SERVER}:7700"),
                "--data-dir",
                &data,
            ],
        );
        let creds_file = self.topo.path("server/operator-credentials.json");
        self.wait("the server to start", || creds_file.exists());
        let text = std::fs::read_to_string(&creds_file).expect("operator credentials");
        let v: Value = serde_json::from_str(&text).expect("json");
        let creds = |v: &Value| Creds {
            key: v["accessKeyId"].as_str().expect("key").to_owned(),
            secret: v["secretAccessKey"].as_str().expect("secret").to_owned(),
        };
        let op = creds(&v);
        self.wait("the server to answer", || {
            self.cli(&op, &["environment", "list"]).is_ok()
        });
        let acme = self.ok(&op, &["account", "create", "--name", "acme"]);
        let lumen = self.ok(&op, &["account", "create", "--name", "lumen"]);
        let lumen_id = lumen["accountId"].as_str().expect("id").to_owned();
        let (acme, lumen) = (creds(&acme), creds(&lumen));
        let ap = self.ok(
            &acme,
            &[
                "attach-point",
                "create",
                "--name",
                "vpc",
                "--prefixes",
                "10.0.0.0/16",
                "--asn",
                "64512",
            ],
        )["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let t = self.ok(
            &acme,
            &["gateway", "token", "create", "--attach-point", &ap],
        );
        self.start_gateway("tenant", t["token"].as_str().expect("token"), SERVER, false);
        for (i, facility) in ["chi-eq-ch1", "chi-350c"].iter().enumerate() {
            let t = self.ok(&op, &["gateway", "token", "create", "--facility", facility]);
            let node = format!("edge{}", i + 1);
            let underlay = format!("10.210.0.1{}", i + 1);
            self.start_gateway(&node, t["token"].as_str().expect("token"), &underlay, true);
        }
        self.wait("three gateways to register", || {
            self.cli(&op, &["gateway", "list"])
                .ok()
                .and_then(|v| v["gateways"].as_array().map(Vec::len))
                == Some(3)
        });
        (acme, lumen, lumen_id, ap)
    }

    /// A provisioned lab (with IPv6 on both sides when `ipv6`, see [`with_ipv6`]) and a
    /// connection created with `site` flags and accepted: the lab, the tenant and the site.
    fn with_site(tag: &str, ipv6: bool, site: &[&str]) -> (Lab, Creds, Site) {
        let mut lab = Lab::new(tag);
        let (acme, lumen, lumen_id, ap) = lab.provision();
        if ipv6 {
            with_ipv6(&lab, &acme, &ap);
        }
        let site = lab.connect(&acme, &lumen, &lumen_id, &ap, site);
        (lab, acme, site)
    }

    /// The tenant creates the connection with `site` flags; the provider accepts it.
    fn connect(
        &self,
        acme: &Creds,
        lumen: &Creds,
        lumen_id: &str,
        ap: &str,
        site: &[&str],
    ) -> Site {
        let mut args = vec![
            "connection",
            "create",
            "--environment",
            "lumen-chicago",
            "--bandwidth",
            "1Gbps",
            "--attach-point",
            ap,
            "--remote-account",
            lumen_id,
            "--circuit-id",
            "LUMEN-CHI-0042",
            "--customer-asn",
            "65010",
        ];
        args.extend_from_slice(site);
        let c = self.ok(acme, &args);
        let key = c["activationKey"].as_str().expect("key").to_owned();
        let accepted = self.ok(lumen, &["connection", "accept", "--activation-key", &key]);
        assert_eq!(accepted["state"], "pending", "{accepted}");
        let lm = &c["lastMile"];
        let pairs = |suffix: &str| -> Vec<(String, String)> {
            lm["peerings"]
                .as_array()
                .expect("peerings")
                .iter()
                .filter_map(|p| {
                    Some((
                        p[format!("providerAddress{suffix}")].as_str()?.to_owned(),
                        p[format!("customerAddress{suffix}")].as_str()?.to_owned(),
                    ))
                })
                .collect()
        };
        Site {
            id: c["id"].as_str().expect("id").to_owned(),
            vlan: lm["vlan"].as_u64().expect("vlan"),
            peerings: pairs(""),
            peerings6: pairs("6"),
            attach_point: ap.to_owned(),
        }
    }

    /// The customer's VLAN sub-interfaces on its uplinks (an xconnect gateway with `[[access]]`
    /// only: the kernel here has no 802.1Q devices).
    fn cpe_vlans(&mut self, site: &Site) {
        let mut text = "[gateway]\nname = \"cpe\"\nadmin_listen = \"127.0.0.1:7801\"\n".to_owned();
        let with_length = |(provider, customer): &(String, String)| {
            let len = provider.split('/').nth(1).expect("length");
            format!("\"{customer}/{len}\"")
        };
        for (i, session) in site.peerings.iter().enumerate() {
            let addresses: Vec<String> = std::iter::once(session)
                .chain(site.peerings6.get(i))
                .map(with_length)
                .collect();
            text += &format!(
                "[[access]]\ninterface = \"up{}\"\nvlan = {}\naddresses = [{}]\n",
                i + 1,
                site.vlan,
                addresses.join(", ")
            );
        }
        let path = self.topo.path("cpe-vlans.toml");
        std::fs::write(&path, text).expect("cpe config");
        let p = path.display().to_string();
        self.spawn(
            "cpe",
            "cpe-vlans",
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "gateway",
                "run",
                "--config",
                &p,
            ],
        );
        // The router starts once its interfaces are up with their addresses, as a customer's
        // would (FRR's zebra otherwise may not tie the session's address to an interface).
        self.wait("the customer's VLAN sub-interfaces", || {
            let addrs = String::from_utf8_lossy(
                &self.topo.exec("cpe", &["ip", "-o", "addr", "show"]).stdout,
            )
            .into_owned();
            site.peerings.iter().enumerate().all(|(i, (_, customer))| {
                addrs.lines().any(|l| {
                    l.contains(&format!("up{}.{}", i + 1, site.vlan))
                        && l.contains(&format!("{customer}/"))
                })
            })
        });
    }

    fn get(&self, who: &Creds, id: &str) -> Value {
        self.ok(who, &["connection", "get", id])
    }

    fn wait_state(&self, who: &Creds, id: &str, state: &str) {
        self.wait(&format!("{id} to be {state}"), || {
            self.cli(who, &["connection", "get", id])
                .is_ok_and(|c| c["state"] == state)
        });
    }

    fn links(&self, who: &Creds, id: &str) -> Vec<Value> {
        self.ok(who, &["connection", "links", id])["links"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Stops edge1 and waits for its link to show down.
    fn lose_edge1(&mut self, acme: &Creds, site: &Site) {
        self.stop("edge1");
        self.wait("the links view to show edge1's link down", || {
            self.links(acme, &site.id)
                .iter()
                .any(|l| l["state"] == "down")
        });
    }

    fn ping(&self) -> bool {
        self.topo.ping("cpe", ONPREM, VPC)
    }

    fn ping6(&self) -> bool {
        self.topo.ping("cpe", ONPREM6, VPC6)
    }

    /// Restarts a stopped edge from its state directory (its credential is kept there).
    fn start_gateway_again(&mut self, node: &str) {
        let state = self
            .topo
            .path(&format!("{node}-state"))
            .display()
            .to_string();
        let underlay = if node == "edge1" {
            "10.210.0.11"
        } else {
            "10.210.0.12"
        };
        let endpoint = self.endpoint.clone();
        self.spawn(
            node,
            &format!("{node}-again"),
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "gateway",
                "run",
                "--controller",
                &endpoint,
                "--underlay-address",
                underlay,
                "--name",
                node,
                "--state-dir",
                &state,
                "--access-interface",
                "cust",
            ],
        );
    }

    /// Starts the customer router with a session per peering (and per IPv6 peering): towards
    /// the edges (AS 64999) in layer 3, towards the tenant's gateway (AS 64512) in layer 2. It
    /// announces 10.50.0.0/24 and 10.50.9.0/24 (which the tests never declare), over IPv6
    /// sessions fd00:50::/64 and fd00:59::/64 (likewise), and can be told to announce `EXTRA`.
    fn start_cpe(&mut self, cpe: Cpe, site: &Site, peer_asn: u32, password: Option<&str>) {
        let peers: Vec<(String, String)> = site
            .peerings
            .iter()
            .chain(&site.peerings6)
            .map(|(provider, customer)| {
                (
                    provider.split('/').next().expect("addr").to_owned(),
                    customer.clone(),
                )
            })
            .collect();
        match cpe {
            Cpe::Bird => self.start_bird(&peers, peer_asn, password),
            Cpe::Frr => self.start_frr(&peers, peer_asn, password),
        }
    }

    fn start_bird(&mut self, peers: &[(String, String)], peer_asn: u32, password: Option<&str>) {
        let ipv6 = peers.iter().any(|(peer, _)| peer.contains(':'));
        let mut c = format!(
            "router id 10.50.0.1;\nprotocol device {{ }}\nprotocol kernel {{ ipv4 {{ import none; export where source = RTS_BGP; }}; merge paths on; }}\n\
             protocol static onprem {{ ipv4; route 10.50.0.0/24 blackhole; route 10.50.9.0/24 blackhole; }}\n\
             protocol static extra {{ disabled; ipv4; {} }}\n",
            EXTRA
                .iter()
                .map(|r| format!("route {r} blackhole; "))
                .collect::<String>()
        );
        if ipv6 {
            c += "protocol kernel kernel6 { ipv6 { import none; export where source = RTS_BGP; }; merge paths on; }\n\
                  protocol static onprem6 { ipv6; route fd00:50::/64 blackhole; route fd00:59::/64 blackhole; }\n";
        }
        for (i, (peer, local)) in peers.iter().enumerate() {
            let family = if peer.contains(':') { "ipv6" } else { "ipv4" };
            c += &format!(
                "protocol bgp s{} {{ local {local} as 65010; neighbor {peer} as {peer_asn}; connect retry time 1; connect delay time 1; error wait time 1, 2; {} {family} {{ import all; export where source = RTS_STATIC; }}; }}\n",
                i + 1,
                password
                    .map(|p| format!("password \"{p}\";"))
                    .unwrap_or_default()
            );
        }
        let conf = self.topo.path("bird.conf");
        std::fs::write(&conf, c).expect("bird.conf");
        let ctl = self.topo.path("bird.ctl");
        let _ = std::fs::remove_file(&ctl);
        let (conf, ctl_s) = (conf.display().to_string(), ctl.display().to_string());
        self.spawn("cpe", "bird", &["bird", "-f", "-c", &conf, "-s", &ctl_s]);
        self.wait("BIRD's control socket", || ctl.exists());
    }

    fn start_frr(&mut self, peers: &[(String, String)], peer_asn: u32, password: Option<&str>) {
        let dir = self.topo.path("frr");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("vty")).expect("frr dir");
        let mut bgpd = "hostname cpe\nlog stdout informational\nrouter bgp 65010\n bgp router-id 10.50.0.1\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n no bgp network import-check\n".to_owned();
        for (peer, _) in peers {
            bgpd += &format!(
                " neighbor {peer} remote-as {peer_asn}\n neighbor {peer} timers connect 1\n"
            );
            if let Some(p) = password {
                bgpd += &format!(" neighbor {peer} password {p}\n");
            }
        }
        // Each session carries its own family.
        for (family, networks) in [
            ("ipv4", ["10.50.0.0/24", "10.50.9.0/24"]),
            ("ipv6", ["fd00:50::/64", "fd00:59::/64"]),
        ] {
            let mine: Vec<&String> = peers
                .iter()
                .map(|(peer, _)| peer)
                .filter(|p| p.contains(':') == (family == "ipv6"))
                .collect();
            if mine.is_empty() {
                continue;
            }
            bgpd += &format!(" address-family {family} unicast\n");
            for n in networks {
                bgpd += &format!("  network {n}\n");
            }
            for p in mine {
                bgpd += &format!("  neighbor {p} activate\n");
            }
            bgpd += " exit-address-family\n";
        }
        std::fs::write(dir.join("zebra.conf"), "hostname cpe\n").expect("zebra.conf");
        std::fs::write(dir.join("bgpd.conf"), bgpd).expect("bgpd.conf");
        chown(&dir, "frr");
        for daemon in ["zebra", "bgpd"] {
            let args = frr_daemon(&dir, daemon);
            self.spawn(
                "cpe",
                daemon,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            let sock = if daemon == "zebra" {
                dir.join("zserv.api")
            } else {
                dir.join("vty/bgpd.vty")
            };
            self.wait(&format!("{daemon} to start"), || sock.exists());
        }
    }

    fn stop_cpe(&mut self, cpe: Cpe) {
        match cpe {
            Cpe::Bird => self.stop("bird"),
            Cpe::Frr => {
                self.stop("bgpd");
                self.stop("zebra");
            }
        }
    }

    /// Makes the customer router announce `EXTRA` too, or stop.
    fn cpe_extra(&self, cpe: Cpe, on: bool) {
        match cpe {
            Cpe::Bird => {
                let ctl = self.topo.path("bird.ctl").display().to_string();
                let verb = if on { "enable" } else { "disable" };
                netns::ok(&["birdc", "-s", &ctl, verb, "extra"]);
            }
            Cpe::Frr => {
                let vty = self.topo.path("frr/vty").display().to_string();
                let mut args = vec![
                    "vtysh".to_owned(),
                    "--vty_socket".into(),
                    vty,
                    "-c".into(),
                    "configure terminal".into(),
                    "-c".into(),
                    "router bgp 65010".into(),
                    "-c".into(),
                    "address-family ipv4 unicast".into(),
                ];
                for r in EXTRA {
                    args.push("-c".into());
                    args.push(format!("{}network {r}", if on { "" } else { "no " }));
                }
                let mut full = vec!["ip", "netns", "exec"];
                let ns = self.topo.ns("cpe");
                full.push(&ns);
                full.extend(args.iter().map(String::as_str));
                netns::ok(&full);
            }
        }
    }
}

/// The customer router under test.
#[derive(Debug, Clone, Copy)]
enum Cpe {
    Bird,
    Frr,
}

/// Declared on the connection but announced only on demand: with 10.50.0.0/24, three accepted
/// prefixes, one more than the limit of the prefix-limit scenario.
const EXTRA: [&str; 2] = ["10.50.1.0/24", "10.50.2.0/24"];

fn customer(link: &Value) -> &Value {
    &link["customer"]
}

/// Whether a reported customer session is Established with one prefix accepted and `refused`
/// among those it refused.
fn up_with_one_refused(bgp: &Value, refused: &str) -> bool {
    bgp["state"] == "Established"
        && bgp["prefixesAccepted"] == 1
        && bgp["refusedPrefixes"]
            .as_array()
            .is_some_and(|r| r.iter().any(|p| p == refused))
}

/// IPv6 on both sides: fd00:a::/48 added to the tenant's attach point (fd00:a::1 on its lo),
/// fd00:50::1 on the customer router's lo.
fn with_ipv6(lab: &Lab, acme: &Creds, ap: &str) {
    lab.topo.exec_ok(
        "tenant",
        &["ip", "addr", "add", "fd00:a::1/48", "dev", "lo"],
    );
    lab.topo
        .exec_ok("cpe", &["ip", "addr", "add", "fd00:50::1/64", "dev", "lo"]);
    lab.ok(
        acme,
        &[
            "attach-point",
            "update",
            ap,
            "--prefixes",
            "10.0.0.0/16,fd00:a::/48",
        ],
    );
}

/// Layer 3 with IPv6: a site with an IPv6 prefix gets an IPv6 session beside each IPv4 one
/// (addresses allocated), and each link a second session between its IPv6 addresses; both
/// families cross, undeclared IPv6 prefixes are refused, and IPv6 survives losing an edge.
fn layer3_ipv6(cpe: Cpe, tag: &str) {
    let (mut lab, acme, site) = Lab::with_site(
        tag,
        true,
        &["--on-premises-prefixes", "10.50.0.0/24,fd00:50::/64"],
    );
    assert_eq!(site.peerings6.len(), 2, "an IPv6 session per edge");
    for (provider, customer) in &site.peerings6 {
        assert!(
            provider.starts_with("fd58:636f:6e6e:100:6464:") && provider.ends_with(":1/126"),
            "{provider}"
        );
        assert!(customer.ends_with(":2"), "{customer}");
    }
    lab.cpe_vlans(&site);
    lab.start_cpe(cpe, &site, 64999, None);
    lab.wait_state(&acme, &site.id, "available");
    lab.wait("ping over IPv4", || lab.ping());
    lab.wait("ping over IPv6", || lab.ping6());
    lab.wait(
        "both IPv6 customer sessions up with the undeclared prefix refused",
        || {
            let links = lab.links(&acme, &site.id);
            links.len() == 2
                && links.iter().all(|l| {
                    up_with_one_refused(&customer(l)["bgp6"], "fd00:59::/64")
                        && up_with_one_refused(&customer(l)["bgp"], "10.50.9.0/24")
                        && [0, 1]
                            .iter()
                            .all(|&i| l["ends"][i]["bgp6"]["state"] == "Established")
                })
        },
    );
    let routes6 = lab.topo.routes6("tenant");
    assert!(routes6.contains("fd00:50::/64"), "{routes6}");
    assert!(!routes6.contains("fd00:59::"), "{routes6}");
    assert!(
        lab.topo.routes6("cpe").contains("fd00:a::/48"),
        "{}",
        lab.context()
    );
    // A prefix the tenant adds reaches the customer router live, over the IPv6 sessions.
    lab.ok(
        &acme,
        &[
            "attach-point",
            "update",
            &site.attach_point,
            "--prefixes",
            "10.0.0.0/16,fd00:a::/48,fd00:b::/48",
        ],
    );
    lab.wait("the added IPv6 prefix at the customer router", || {
        lab.topo.routes6("cpe").contains("fd00:b::/48")
    });
    // One edge stopped: IPv6 goes on through the other.
    lab.lose_edge1(&acme, &site);
    lab.wait("ping over IPv6 through edge2 alone", || lab.ping6());
    // (The reports of the edge that went and of the one that stays reach the server a moment
    // apart: the state is read until it settles.)
    lab.wait("the connection available through edge2 alone", || {
        lab.get(&acme, &site.id)["state"] == "available"
    });
}

/// Layer 3 on two edges: both sessions up with the undeclared prefix refused and reported, VLAN
/// frames on the wire, one edge stopped (traffic continues), more prefixes than the limit (down,
/// with the Cease as the reason; back once the customer stops), delete.
fn layer3_two_edges(cpe: Cpe, tag: &str) {
    let (mut lab, acme, site) = Lab::with_site(
        tag,
        false,
        &[
            "--on-premises-prefixes",
            "10.50.0.0/24,10.50.1.0/24,10.50.2.0/24",
            "--max-prefixes",
            "2",
        ],
    );
    assert_eq!(site.peerings.len(), 2, "two edges by default");
    lab.cpe_vlans(&site);
    lab.start_cpe(cpe, &site, 64999, None);
    lab.wait_state(&acme, &site.id, "available");
    lab.wait("ping from the on-premises network to the VPC", || {
        lab.ping()
    });
    // The links view shows both customer sessions, on two edges in two facilities, and the
    // prefix the customer router announced without declaring it: refused and counted.
    lab.wait(
        "both customer sessions up with the undeclared prefix refused",
        || {
            let links = lab.links(&acme, &site.id);
            links.len() == 2
                && links
                    .iter()
                    .all(|l| up_with_one_refused(&customer(l)["bgp"], "10.50.9.0/24"))
        },
    );
    let links = lab.links(&acme, &site.id);
    let facilities: std::collections::BTreeSet<String> = links
        .iter()
        .map(|l| customer(l)["facility"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(facilities.len(), 2, "{links:?}");
    for l in &links {
        assert_eq!(customer(l)["vlan"], site.vlan);
        assert_eq!(
            customer(l)["interface"].as_str(),
            Some(format!("cust.{}", site.vlan).as_str())
        );
        assert!(customer(l)["bgp"]["prefixesRefusedTotal"].as_u64() >= Some(1));
    }
    assert!(
        !lab.topo.routes("tenant").contains("10.50.9.0"),
        "refused prefixes never reach the VPC"
    );
    // On the wire between the edges and the customer router: 802.1Q frames of the VLAN.
    let cap = lab.topo.exec(
        "cpe",
        &[
            "bash",
            "-c",
            "for i in up1 up2; do timeout 10 tcpdump -l -c 2 -nei $i vlan 2>/dev/null & done; \
             ping -c 30 -i 0.2 -I 10.50.0.1 10.0.0.1 >/dev/null; wait",
        ],
    );
    let cap_text = String::from_utf8_lossy(&cap.stdout);
    assert!(
        cap_text.contains(&format!("vlan {}", site.vlan)),
        "{cap_text}"
    );
    // One edge stopped: traffic continues through the other, and the connection stays up.
    lab.lose_edge1(&acme, &site);
    lab.wait("ping through edge2 alone", || lab.ping());
    lab.wait("the connection available through edge2 alone", || {
        lab.get(&acme, &site.id)["state"] == "available"
    });
    lab.start_gateway_again("edge1");
    lab.wait("both links and sessions back", || {
        let links = lab.links(&acme, &site.id);
        links.len() == 2 && links.iter().all(|l| l["state"] == "up")
    });
    // More accepted prefixes than the limit (2): Cease / Maximum Number of Prefixes Reached,
    // shown as the connection's reason; it recovers once the customer stops.
    lab.cpe_extra(cpe, true);
    lab.wait(
        "the connection down, its reason naming the prefix limit",
        || {
            let c = lab.get(&acme, &site.id);
            c["state"] == "down"
                && c["stateReason"]["code"] == "CUSTOMER_BGP_NOT_ESTABLISHED"
                && c["stateReason"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Maximum Number of Prefixes Reached"))
        },
    );
    lab.cpe_extra(cpe, false);
    lab.wait_state(&acme, &site.id, "available");
    lab.wait("ping again", || lab.ping());
    // Deleting removes the VLANs from the edges.
    lab.ok(&acme, &["connection", "delete", &site.id]);
    lab.wait("the edges to drop the VLAN", || {
        ["edge1", "edge2"].iter().all(|e| {
            !String::from_utf8_lossy(&lab.topo.exec(e, &["ip", "link"]).stdout)
                .contains(&format!("cust.{}", site.vlan))
        })
    });
}

/// MD5 on the customer sessions: a wrong password gives no session and says so; the right one
/// carries traffic. The password is never shown.
fn md5_wrong_then_right(cpe: Cpe, tag: &str) {
    let mut lab = Lab::new(tag);
    let (acme, lumen, lumen_id, ap) = lab.provision();
    let pw = lab.topo.path("md5");
    std::fs::write(&pw, "cpe-secret\n").expect("password file");
    let pw = pw.display().to_string();
    let site = lab.connect(
        &acme,
        &lumen,
        &lumen_id,
        &ap,
        &[
            "--on-premises-prefixes",
            "10.50.0.0/24",
            "--redundancy",
            "1",
            "--md5-password-file",
            &pw,
        ],
    );
    assert_eq!(site.peerings.len(), 1);
    let c = lab.get(&acme, &site.id);
    assert_eq!(c["lastMile"]["md5"], true);
    assert!(!c.to_string().contains("cpe-secret"), "{c}");
    lab.cpe_vlans(&site);
    lab.start_cpe(cpe, &site, 64999, Some("not-the-secret"));
    lab.wait("the customer session's failure to be reported", || {
        let c = lab.get(&acme, &site.id);
        c["state"] == "pending" && c["stateReason"]["code"] == "CUSTOMER_BGP_NOT_ESTABLISHED"
    });
    let links = lab.links(&acme, &site.id);
    assert_ne!(
        customer(&links[0])["bgp"]["state"],
        "Established",
        "{links:?}"
    );
    assert_eq!(customer(&links[0])["bgp"]["md5"], true, "{links:?}");
    lab.stop_cpe(cpe);
    lab.start_cpe(cpe, &site, 64999, Some("cpe-secret"));
    lab.wait_state(&acme, &site.id, "available");
    lab.wait("ping from the on-premises network to the VPC", || {
        lab.ping()
    });
    let links = lab.links(&acme, &site.id);
    assert_eq!(
        customer(&links[0])["bgp"]["prefixesAccepted"],
        1,
        "{links:?}"
    );
}

/// Layer 2: the edge bridges the VLAN onto the link; the customer router peers with the
/// tenant's gateway on addresses the customer chose, in both families.
fn layer2_through_the_edge(cpe: Cpe, tag: &str) {
    let (mut lab, acme, site) = Lab::with_site(
        tag,
        true,
        &[
            "--on-premises-prefixes",
            "10.50.0.0/24,fd00:50::/64",
            "--redundancy",
            "1",
            "--layer",
            "2",
            "--peering",
            "192.168.77.1/30,192.168.77.2,fd00:77::1/126,fd00:77::2",
        ],
    );
    assert_eq!(
        site.peerings,
        vec![("192.168.77.1/30".to_owned(), "192.168.77.2".to_owned())]
    );
    assert_eq!(
        site.peerings6,
        vec![("fd00:77::1/126".to_owned(), "fd00:77::2".to_owned())]
    );
    lab.cpe_vlans(&site);
    lab.start_cpe(cpe, &site, 64512, None);
    lab.wait_state(&acme, &site.id, "available");
    lab.wait("ping from the on-premises network to the VPC", || {
        lab.ping()
    });
    lab.wait("ping over IPv6", || lab.ping6());
    let links = lab.links(&acme, &site.id);
    let cust = customer(&links[0]);
    assert_eq!(cust["layer"], 2, "{cust}");
    assert_eq!(cust["bgp6"]["state"], "Established", "{cust}");
    assert_eq!(cust["bgp6"]["prefixesAccepted"], 1, "{cust}");
    assert_eq!(cust["gatewayName"], "tenant", "{cust}");
    assert_eq!(cust["bgp"]["state"], "Established", "{cust}");
    assert_eq!(cust["bgp"]["prefixesAccepted"], 1, "{cust}");
    // The edge only bridges: its VLAN is in a bridge with the link, and it has no BGP.
    let bridged = ["edge1", "edge2"].iter().any(|edge| {
        let out = lab.topo.exec_ok(
            edge,
            &[
                env!("CARGO_BIN_EXE_xconnect"),
                "gateway",
                "status",
                "--output",
                "json",
            ],
        );
        let st: Value = serde_json::from_str(&out).expect("status json");
        assert!(st["bgp"].is_null(), "no BGP on an edge in layer 2: {st}");
        st["access"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["vlan"] == site.vlan && x["bridge"].as_str().is_some_and(|b| b.starts_with("xb"))
            })
        })
    });
    assert!(bridged, "{}", lab.context());
    // The tenant's gateway learned the on-premises prefix straight from the customer router,
    // and refused the undeclared one.
    let routes = lab.topo.routes("tenant");
    assert!(
        routes.contains("10.50.0.0/24 via 192.168.77.2"),
        "{}",
        lab.context()
    );
    assert!(!routes.contains("10.50.9.0"), "{routes}");
    let routes6 = lab.topo.routes6("tenant");
    assert!(
        routes6.contains("fd00:50::/64 via fd00:77::2"),
        "{}",
        lab.context()
    );
    assert!(!routes6.contains("fd00:59::"), "{routes6}");
}

#[test]
fn bird_layer3_two_edges_refusal_failover_and_max_prefix() {
    layer3_two_edges(Cpe::Bird, "lm3b");
}

#[test]
fn frr_layer3_two_edges_refusal_failover_and_max_prefix() {
    layer3_two_edges(Cpe::Frr, "lm3f");
}

#[test]
fn bird_layer3_carries_ipv6_over_a_second_session_per_edge() {
    layer3_ipv6(Cpe::Bird, "lm6b");
}

#[test]
fn frr_layer3_carries_ipv6_over_a_second_session_per_edge() {
    layer3_ipv6(Cpe::Frr, "lm6f");
}

#[test]
fn bird_md5_wrong_then_right() {
    md5_wrong_then_right(Cpe::Bird, "lmmb");
}

#[test]
fn frr_md5_wrong_then_right() {
    md5_wrong_then_right(Cpe::Frr, "lmmf");
}

#[test]
fn bird_layer2_peers_with_the_tenant_gateway_through_the_edge() {
    layer2_through_the_edge(Cpe::Bird, "lm2b");
}

#[test]
fn frr_layer2_peers_with_the_tenant_gateway_through_the_edge() {
    layer2_through_the_edge(Cpe::Frr, "lm2f");
}
