//! `xconnect security-group ...`, `xconnect network-acl ...` and `xconnect prefix-list ...`: what
//! may cross an attach point's edge, in EC2's vocabulary.

use crate::output::{Format, columns, print_list, print_object};
use anyhow::anyhow;
use serde_json::json;
use xc_client::Client;
use xc_types::api::filters::*;
use xc_types::api::routes as r;
use xc_types::filter::{AclRule, RuleSpec, SgRule};

/// `FROM-TO`, each a port.
fn port_range(s: &str) -> anyhow::Result<(u16, u16)> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| anyhow!("`{s}` is not a port range: FROM-TO, as 1024-65535"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| anyhow!("`{p}` is not a port (0 to 65535)"))
    };
    Ok((port(a)?, port(b)?))
}

/// What a rule matches, as the commands take it.
#[derive(Debug, clap::Args)]
pub struct Match {
    /// inbound or outbound.
    #[arg(long)]
    direction: String,
    /// tcp, udp, icmp, icmpv6, all, or a protocol number.
    #[arg(long)]
    protocol: String,
    /// One destination port (tcp, udp).
    #[arg(long, conflicts_with = "port_range")]
    port: Option<u16>,
    /// Destination ports FROM-TO (tcp, udp).
    #[arg(long, value_parser = port_range)]
    port_range: Option<(u16, u16)>,
    /// ICMP type (icmp, icmpv6); every message without it.
    #[arg(long)]
    icmp_type: Option<u8>,
    /// ICMP code within --icmp-type; every code without it.
    #[arg(long, requires = "icmp_type")]
    icmp_code: Option<u8>,
}

impl Match {
    fn spec(self) -> RuleSpec {
        let (from_port, to_port) = match (self.port, self.port_range) {
            (Some(p), _) => (Some(i64::from(p)), Some(i64::from(p))),
            (None, Some((a, b))) => (Some(i64::from(a)), Some(i64::from(b))),
            (None, None) => (None, None),
        };
        RuleSpec {
            direction: self.direction,
            ip_protocol: self.protocol,
            from_port,
            to_port,
            icmp_type: self.icmp_type.map(i64::from),
            icmp_code: self.icmp_code.map(i64::from),
            ..RuleSpec::default()
        }
    }
}

/// A prefix into the spec's family field.
fn set_cidr(spec: &mut RuleSpec, cidr: String) {
    if cidr.contains(':') {
        spec.cidr_ipv6 = Some(cidr);
    } else {
        spec.cidr_ip = Some(cidr);
    }
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct PeerArg {
    /// The other side's prefix (IPv4 or IPv6): the source of inbound traffic, the destination of
    /// outbound.
    #[arg(long)]
    cidr: Option<String>,
    /// A prefix list (pl-...) in place of a prefix.
    #[arg(long)]
    prefix_list: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum SecurityGroupVerb {
    /// A security group for an attach point, attached to it: all outbound allowed (AWS's
    /// default), nothing inbound until you authorize it.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        attach_point: String,
        #[arg(long)]
        description: Option<String>,
        /// Change nothing: show the tracked flows its gateways would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// Allow traffic: a stateful rule (the replies of an allowed flow pass too).
    Authorize {
        group: String,
        #[command(flatten)]
        rule: Match,
        #[command(flatten)]
        peer: PeerArg,
        #[arg(long)]
        description: Option<String>,
        /// Change nothing: show the group as it would be and the tracked flows its gateways
        /// would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove a rule: the one matching these options, or `--rule-id`.
    Revoke {
        group: String,
        /// Change nothing: show the group as it would be and the tracked flows its gateways
        /// would cut.
        #[arg(long)]
        dry_run: bool,

        /// The rule's id (sgr-...), in place of what it matches.
        #[arg(long, conflicts_with_all = ["direction", "protocol", "cidr", "prefix_list"])]
        rule_id: Option<String>,
        #[arg(long, required_unless_present = "rule_id")]
        direction: Option<String>,
        #[arg(long, required_unless_present = "rule_id")]
        protocol: Option<String>,
        #[arg(long, conflicts_with = "port_range")]
        port: Option<u16>,
        #[arg(long, value_parser = port_range)]
        port_range: Option<(u16, u16)>,
        #[arg(long)]
        icmp_type: Option<u8>,
        #[arg(long, requires = "icmp_type")]
        icmp_code: Option<u8>,
        #[arg(long, conflicts_with = "prefix_list")]
        cidr: Option<String>,
        #[arg(long)]
        prefix_list: Option<String>,
    },
    /// Your security groups.
    List,
    /// One group with its rules and attach points.
    Get { group: String },
    /// Delete a group (its attach points stop enforcing it).
    Delete {
        group: String,
        /// Change nothing: show the tracked flows its gateways would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// Attach a group to another of your attach points.
    Attach {
        group: String,
        #[arg(long)]
        attach_point: String,
        /// Change nothing: show the tracked flows its gateways would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// Detach a group from an attach point.
    Detach {
        group: String,
        #[arg(long)]
        attach_point: String,
        /// Change nothing: show the tracked flows its gateways would cut.
        #[arg(long)]
        dry_run: bool,
    },
}

/// A group as people read it: its fields, then one line per rule.
fn print_group(out: Format, g: &SecurityGroup) -> anyhow::Result<()> {
    if !out.for_people() {
        return print_object(out, g);
    }
    println!("securityGroupId  {}", g.security_group_id);
    println!("name             {}", g.name);
    if let Some(d) = &g.description {
        println!("description      {d}");
    }
    let aps: Vec<String> = g.attach_point_ids.iter().map(|a| a.to_string()).collect();
    println!("attachPointIds   {}", aps.join(", "));
    println!("updatedAt        {}", g.updated_at);
    let cols = columns![SgRule;
        "ruleId" => |r| json!(r.id),
        "direction" => |r| json!(r.direction.as_str()),
        "protocol" => |r| json!(r.protocol.to_string()),
        "ports" => |r| json!(ports_text(&RuleSpec::from(r.clone()))),
        "peer" => |r| json!(peer_text(&RuleSpec::from(r.clone()))),
    ];
    println!();
    print_list(out, &g.rules, &g.rules, cols)?;
    print_dry_run(out, g.dry_run.as_ref())
}

/// A deleted group or ACL; a tried deletion with what it would cut.
fn print_deleted(out: Format, d: &FilterDeleted) -> anyhow::Result<()> {
    if !out.for_people() {
        return print_object(out, d);
    }
    if d.deleted {
        println!("deleted {}", d.id);
    } else {
        println!("would delete {}", d.id);
    }
    print_dry_run(out, d.dry_run.as_ref())
}

/// `?dryRun=true` when asked.
fn dry(dry_run: bool) -> DryRunQuery {
    DryRunQuery {
        dry_run: dry_run.then_some(true),
    }
}

/// What a dry run found, gateway by gateway.
fn print_dry_run(out: Format, d: Option<&FilterDryRun>) -> anyhow::Result<()> {
    let Some(d) = d else { return Ok(()) };
    println!("\nDRY RUN: nothing was changed. The tracked flows this change would cut:");
    for g in &d.gateways {
        if !g.answered {
            println!(
                "\n{} ({}): did not answer; its flows are unknown",
                g.gateway_name, g.gateway_id
            );
            continue;
        }
        println!(
            "\n{} ({}): {} flow(s)",
            g.gateway_name, g.gateway_id, g.total
        );
        if g.flows.is_empty() {
            continue;
        }
        let cols = columns![xc_types::gateway::CutFlow;
            "direction" => |f| json!(f.direction.as_str()),
            "protocol" => |f| json!(f.protocol),
            "src" => |f| json!(format!("{}:{}", f.srcaddr, f.srcport)),
            "dst" => |f| json!(format!("{}:{}", f.dstaddr, f.dstport)),
            "idle" => |f| json!(format!("{}s", f.idle_secs)),
        ];
        print_list(out, &g.flows, &g.flows, cols)?;
        if g.total > g.flows.len() as u64 {
            println!("... and {} more", g.total - g.flows.len() as u64);
        }
    }
    Ok(())
}

fn ports_text(s: &RuleSpec) -> String {
    match (s.from_port, s.to_port, s.icmp_type, s.icmp_code) {
        (Some(a), Some(b), _, _) if a == b => a.to_string(),
        (Some(a), Some(b), _, _) => format!("{a}-{b}"),
        (_, _, Some(t), Some(c)) => format!("type {t} code {c}"),
        (_, _, Some(t), None) => format!("type {t}"),
        _ => "all".to_owned(),
    }
}

fn peer_text(s: &RuleSpec) -> String {
    s.cidr_ip
        .clone()
        .or_else(|| s.cidr_ipv6.clone())
        .or_else(|| s.prefix_list_id.clone())
        .unwrap_or_default()
}

pub async fn run_security_group(
    c: &Client,
    out: Format,
    verb: SecurityGroupVerb,
) -> anyhow::Result<()> {
    match verb {
        SecurityGroupVerb::Create {
            name,
            attach_point,
            description,
            dry_run,
        } => {
            let req = CreateSecurityGroupRequest {
                name,
                attach_point_id: attach_point,
                description,
            };
            let g = c
                .send::<r::CreateSecurityGroup>(&[], Some(&dry(dry_run)), Some(&req))
                .await?;
            print_group(out, &g)
        }
        SecurityGroupVerb::Authorize {
            group,
            rule,
            peer,
            description,
            dry_run,
        } => {
            let mut spec = rule.spec();
            spec.description = description;
            if let Some(cidr) = peer.cidr {
                set_cidr(&mut spec, cidr);
            }
            spec.prefix_list_id = peer.prefix_list;
            let req = SecurityGroupRulesRequest { rules: vec![spec] };
            let g = c
                .send::<r::AuthorizeSecurityGroupRules>(&[&group], Some(&dry(dry_run)), Some(&req))
                .await?;
            print_group(out, &g)
        }
        SecurityGroupVerb::Revoke {
            group,
            dry_run,
            rule_id,
            direction,
            protocol,
            port,
            port_range,
            icmp_type,
            icmp_code,
            cidr,
            prefix_list,
        } => {
            let spec = match rule_id {
                Some(id) => RuleSpec {
                    rule_id: Some(id),
                    ..RuleSpec::default()
                },
                None => {
                    let mut spec = Match {
                        direction: direction.unwrap_or_default(),
                        protocol: protocol.unwrap_or_default(),
                        port,
                        port_range,
                        icmp_type,
                        icmp_code,
                    }
                    .spec();
                    if let Some(cidr) = cidr {
                        set_cidr(&mut spec, cidr);
                    }
                    spec.prefix_list_id = prefix_list;
                    spec
                }
            };
            let req = SecurityGroupRulesRequest { rules: vec![spec] };
            let g = c
                .send::<r::RevokeSecurityGroupRules>(&[&group], Some(&dry(dry_run)), Some(&req))
                .await?;
            print_group(out, &g)
        }
        SecurityGroupVerb::List => {
            let l = c.send::<r::ListSecurityGroups>(&[], None, None).await?;
            let cols = columns![SecurityGroup;
                "securityGroupId" => |g| json!(g.security_group_id),
                "name" => |g| json!(g.name),
                "rules" => |g| json!(g.rules.len()),
                "attachPointIds" => |g| json!(g.attach_point_ids.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" ")),
            ];
            print_list(out, &l, &l.security_groups, cols)
        }
        SecurityGroupVerb::Get { group } => {
            let g = c.send::<r::GetSecurityGroup>(&[&group], None, None).await?;
            print_group(out, &g)
        }
        SecurityGroupVerb::Delete { group, dry_run } => print_deleted(
            out,
            &c.send::<r::DeleteSecurityGroup>(&[&group], Some(&dry(dry_run)), None)
                .await?,
        ),
        SecurityGroupVerb::Attach {
            group,
            attach_point,
            dry_run,
        } => {
            let req = AttachmentRequest {
                attach_point_id: attach_point,
            };
            let g = c
                .send::<r::AttachSecurityGroup>(&[&group], Some(&dry(dry_run)), Some(&req))
                .await?;
            print_group(out, &g)
        }
        SecurityGroupVerb::Detach {
            group,
            attach_point,
            dry_run,
        } => {
            let req = AttachmentRequest {
                attach_point_id: attach_point,
            };
            let g = c
                .send::<r::DetachSecurityGroup>(&[&group], Some(&dry(dry_run)), Some(&req))
                .await?;
            print_group(out, &g)
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum NetworkAclVerb {
    /// The attach point's network ACL (one per attach point). It starts empty: the final
    /// implicit deny refuses everything until you add rules.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        attach_point: String,
        /// Change nothing: show the tracked flows its gateways would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// A numbered rule: lowest number first, the first that matches decides.
    AddRule {
        acl: String,
        /// 1 to 32766, once per direction.
        #[arg(long)]
        number: i64,
        #[command(flatten)]
        rule: Match,
        /// allow or deny.
        #[arg(long)]
        action: String,
        #[arg(long)]
        cidr: String,
        #[arg(long)]
        description: Option<String>,
        /// Change nothing: show the ACL as it would be and the tracked flows its gateways
        /// would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove a rule by direction and number.
    RemoveRule {
        acl: String,
        #[arg(long)]
        number: u16,
        /// inbound or outbound.
        #[arg(long)]
        direction: String,
        /// Change nothing: show the ACL as it would be and the tracked flows its gateways
        /// would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// Your network ACLs.
    List,
    /// One ACL with its rules.
    Get { acl: String },
    /// Delete an ACL: its attach point goes back to the default (allow everything).
    Delete {
        acl: String,
        /// Change nothing: show the tracked flows its gateways would cut.
        #[arg(long)]
        dry_run: bool,
    },
}

fn print_acl(out: Format, a: &NetworkAcl) -> anyhow::Result<()> {
    if !out.for_people() {
        return print_object(out, a);
    }
    println!("networkAclId   {}", a.network_acl_id);
    println!("name           {}", a.name);
    println!("attachPointId  {}", a.attach_point_id);
    println!("updatedAt      {}", a.updated_at);
    let cols = columns![AclRule;
        "direction" => |r| json!(r.direction.as_str()),
        "number" => |r| json!(r.number),
        "action" => |r| json!(r.action.as_str()),
        "protocol" => |r| json!(r.protocol.to_string()),
        "ports" => |r| json!(ports_text(&RuleSpec::from(r.clone()))),
        "cidr" => |r| json!(r.cidr.to_string()),
    ];
    println!();
    print_list(out, &a.rules, &a.rules, cols)?;
    println!("*  (every other packet)  deny");
    print_dry_run(out, a.dry_run.as_ref())
}

pub async fn run_network_acl(c: &Client, out: Format, verb: NetworkAclVerb) -> anyhow::Result<()> {
    match verb {
        NetworkAclVerb::Create {
            name,
            attach_point,
            dry_run,
        } => {
            let req = CreateNetworkAclRequest {
                name,
                attach_point_id: attach_point,
            };
            let a = c
                .send::<r::CreateNetworkAcl>(&[], Some(&dry(dry_run)), Some(&req))
                .await?;
            print_acl(out, &a)
        }
        NetworkAclVerb::AddRule {
            acl,
            number,
            rule,
            action,
            cidr,
            description,
            dry_run,
        } => {
            let mut spec = rule.spec();
            spec.rule_number = Some(number);
            spec.rule_action = Some(action);
            spec.description = description;
            set_cidr(&mut spec, cidr);
            let a = c
                .send::<r::AddNetworkAclRule>(&[&acl], Some(&dry(dry_run)), Some(&spec))
                .await?;
            print_acl(out, &a)
        }
        NetworkAclVerb::RemoveRule {
            acl,
            number,
            direction,
            dry_run,
        } => {
            let q = RemoveAclRuleQuery {
                direction,
                rule_number: number,
                dry_run: dry_run.then_some(true),
            };
            let a = c
                .send::<r::RemoveNetworkAclRule>(&[&acl], Some(&q), None)
                .await?;
            print_acl(out, &a)
        }
        NetworkAclVerb::List => {
            let l = c.send::<r::ListNetworkAcls>(&[], None, None).await?;
            let cols = columns![NetworkAcl;
                "networkAclId" => |a| json!(a.network_acl_id),
                "name" => |a| json!(a.name),
                "attachPointId" => |a| json!(a.attach_point_id),
                "rules" => |a| json!(a.rules.len()),
            ];
            print_list(out, &l, &l.network_acls, cols)
        }
        NetworkAclVerb::Get { acl } => {
            let a = c.send::<r::GetNetworkAcl>(&[&acl], None, None).await?;
            print_acl(out, &a)
        }
        NetworkAclVerb::Delete { acl, dry_run } => print_deleted(
            out,
            &c.send::<r::DeleteNetworkAcl>(&[&acl], Some(&dry(dry_run)), None)
                .await?,
        ),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum PrefixListVerb {
    /// A named set of prefixes that security group rules can name (--prefix-list).
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated prefixes (IPv4 and IPv6).
        #[arg(long, value_delimiter = ',', value_parser = crate::cli::list_item, required = true)]
        prefixes: Vec<String>,
    },
    /// Rename a list or replace its prefixes: live wherever rules name it.
    Update {
        list: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_delimiter = ',', value_parser = crate::cli::list_item)]
        prefixes: Option<Vec<String>>,
        /// Change nothing: show the tracked flows the gateways of the attach points whose rules
        /// name it would cut.
        #[arg(long)]
        dry_run: bool,
    },
    /// Your prefix lists.
    List,
    /// One prefix list.
    Get { list: String },
    /// Delete a list that no rule names.
    Delete { list: String },
}

pub async fn run_prefix_list(c: &Client, out: Format, verb: PrefixListVerb) -> anyhow::Result<()> {
    match verb {
        PrefixListVerb::Create { name, prefixes } => {
            let req = CreatePrefixListRequest { name, prefixes };
            print_object(
                out,
                &c.send::<r::CreatePrefixList>(&[], None, Some(&req)).await?,
            )
        }
        PrefixListVerb::Update {
            list,
            name,
            prefixes,
            dry_run,
        } => {
            let req = UpdatePrefixListRequest { name, prefixes };
            let l = c
                .send::<r::UpdatePrefixList>(&[&list], Some(&dry(dry_run)), Some(&req))
                .await?;
            if !out.for_people() {
                return print_object(out, &l);
            }
            let dry_run = l.dry_run.clone();
            print_object(out, &PrefixList { dry_run: None, ..l })?;
            print_dry_run(out, dry_run.as_ref())
        }
        PrefixListVerb::List => {
            let l = c.send::<r::ListPrefixLists>(&[], None, None).await?;
            let cols = columns![PrefixList;
                "prefixListId" => |p| json!(p.prefix_list_id),
                "name" => |p| json!(p.name),
                "prefixes" => |p| json!(p.prefixes.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")),
            ];
            print_list(out, &l, &l.prefix_lists, cols)
        }
        PrefixListVerb::Get { list } => print_object(
            out,
            &c.send::<r::GetPrefixList>(&[&list], None, None).await?,
        ),
        PrefixListVerb::Delete { list } => print_object(
            out,
            &c.send::<r::DeletePrefixList>(&[&list], None, None).await?,
        ),
    }
}

/// `xconnect attach-point check`: each side's answer, one line each, and the verdict.
pub async fn check(c: &Client, out: Format, ap: &str, req: CheckRequest) -> anyhow::Result<()> {
    let res = c
        .send::<r::CheckAttachPoint>(&[ap], None, Some(&req))
        .await?;
    if !out.for_people() {
        return print_object(out, &res);
    }
    for s in &res.sides {
        println!(
            "{:<24} {:<8} {:<5} {}",
            s.attach_point_id,
            s.direction,
            if s.allowed { "allow" } else { "deny" },
            s.explanation
        );
    }
    println!("{}", if res.allowed { "ALLOW" } else { "DENY" });
    Ok(())
}
