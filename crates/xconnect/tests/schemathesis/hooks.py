"""Schemathesis hooks for xconnect's native API: every request is signed with AWS Signature
Version 4 (botocore's signer, as the AWS CLI signs) over exactly what is sent, with the access key
in XC_KEY / XC_SECRET (XC_REGION, default us-east-1). Requests the API answers without a
signature (the OpenAPI document, gateway registration) and gateway-credential routes are left
unsigned."""

import ipaddress
import os
import re

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDENTIALS = Credentials(os.environ["XC_KEY"], os.environ["XC_SECRET"])
REGION = os.environ.get("XC_REGION", "us-east-1")


class SignV4(requests.auth.AuthBase):
    """Signs a prepared request as it will go on the wire."""

    def __call__(self, r):
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        unsigned = {"user-agent", "connection", "accept-encoding", "accept", "content-length"}
        headers = {k: v for k, v in r.headers.items() if k.lower() not in unsigned}
        aws = AWSRequest(method=r.method, url=r.url, data=body, headers=headers)
        SigV4Auth(CREDENTIALS, "interconnect", REGION).add_auth(aws)
        for name in ("Authorization", "X-Amz-Date"):
            r.headers[name] = aws.headers[name]
        return r


@schemathesis.auth()
class SigV4:
    """Signs the operations the document marks `sigv4`; others go as they are.

    Schemathesis caches what `get` returns for all operations alike (and counts `None` as a failed
    fetch), so `get` always gives the signer and `set` decides per operation."""

    def get(self, case, ctx):
        return SIGNER

    def set(self, case, data, ctx):
        security = ctx.operation.definition.raw.get("security")
        if security is None or any("sigv4" in s for s in security):
            # As schemathesis's own `requests` auth does: applied when the request is prepared.
            case._auth = data


SIGNER = SignV4()


# A prefix with host bits set (10.0.0.1/8) is well-formed, so the schema takes it, but the API
# refuses it (it asks whether 10.0.0.0/8 was meant). Generated prefixes that are well-formed are
# given their host bits cleared, so that valid requests are valid; malformed ones stay as they
# are, for the invalid requests.
PREFIX_LISTS = {"prefixes", "announce", "accept", "onPremisesPrefixes"}


def _prefix_pattern(ctx):
    return re.compile(ctx.operation.schema.raw_schema["components"]["schemas"]["Prefix"]["pattern"])


def _clear_host_bits(items, pattern):
    if not isinstance(items, list):
        return items
    cleared = [
        str(ipaddress.ip_network(p, strict=False))
        if isinstance(p, str) and pattern.fullmatch(p)
        else p
        for p in items
    ]
    if len(set(map(repr, items))) == len(items):
        # No duplicates before: none after either (two prefixes may clear to one).
        seen, unique = set(), []
        for p in cleared:
            if repr(p) not in seen:
                seen.add(repr(p))
                unique.append(p)
        cleared = unique
    return cleared


def _walk(value, pattern):
    # JSON Schema counts 55.0 as an integer; the server, like most, reads integers written as
    # integers only. Whole numbers go as integers.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**64:
        return int(value)
    if isinstance(value, dict):
        return {
            k: _clear_host_bits(v, pattern) if k in PREFIX_LISTS else _walk(v, pattern)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_walk(v, pattern) for v in value]
    return value


# What no schema can say, the hooks make true of the requests that are otherwise valid, so that
# those are valid: a well-formed bandwidth is one the environment offers (`1Mbps` is refused with
# the list of those on offer), an on-premises site goes with a last-mile environment only, its
# well-formed session addresses (two of one subnet, one per edge) are left to the server to
# allocate, and a next token is the server's own, sealed (a made-up one is refused; the stateful phase follows
# real ones). The environments are read from the server once.
ENDPOINT = os.environ["XC_ENDPOINT"]
FIXTURE_ENVIRONMENT = os.environ.get("XC_ENVIRONMENT")
_environments = None


def _environment(env_id):
    global _environments
    if _environments is None:
        r = requests.get(f"{ENDPOINT}/v1/environments", auth=SIGNER, timeout=30)
        r.raise_for_status()
        _environments = {e["id"]: e for e in r.json()["environments"]}
    return _environments.get(env_id)


def _fit_environment(case, ctx):
    body = case.body
    if not isinstance(body, dict):
        return
    if isinstance(body.get("environmentId"), str):
        env = _environment(body["environmentId"])
        if env is None:
            return  # unknown: answered 404
        if not env["availableBandwidths"] or (
            env["productType"] == "lastmile" and body.get("lastMile") is None
        ):
            env = min(
                (e for e in _environments.values() if e["productType"] == "multicloud" and e["availableBandwidths"]),
                key=lambda e: e["id"],
            )
            body["environmentId"] = env["id"]
        if env["productType"] == "multicloud":
            body.pop("lastMile", None)
        _drop_well_formed_peerings(body.get("lastMile"), ctx)
        _fit_on_premises(body.get("lastMile"))
    elif case.path == "/v1/connections/{id}" and FIXTURE_ENVIRONMENT:
        # A new bandwidth for the fixture connection (the one the path names, see below).
        env = _environment(FIXTURE_ENVIRONMENT)
    else:
        return
    pattern = re.compile(ctx.operation.schema.raw_schema["components"]["schemas"]["Bandwidth"]["pattern"])
    bandwidth = body.get("bandwidth")
    if isinstance(bandwidth, str) and pattern.fullmatch(bandwidth):
        if bandwidth not in env["availableBandwidths"]:
            body["bandwidth"] = env["availableBandwidths"][0]


def _fit_on_premises(site):
    """A site's on-premises prefixes may not overlap the attach point's (the fixture's,
    `XC_ANNOUNCE`): well-formed ones that do are left out, and a list left empty gets one that
    does not; malformed ones stay, for the invalid requests."""
    if not ANNOUNCE or not isinstance(site, dict) or not isinstance(site.get("onPremisesPrefixes"), list):
        return
    ours = ipaddress.ip_network(ANNOUNCE)
    kept = []
    for p in site["onPremisesPrefixes"]:
        try:
            n = ipaddress.ip_network(p, strict=False)
        except (TypeError, ValueError):
            kept.append(p)
            continue
        if n.version != ours.version or not n.overlaps(ours):
            kept.append(p)
    if site["onPremisesPrefixes"] and not kept:
        kept = ["192.168.77.0/24"]
    site["onPremisesPrefixes"] = kept


def _drop_well_formed_peerings(site, ctx):
    """Session addresses that the schema allows but that make no session (two hosts of one
    subnet, the IPv6 pair given together) are answered 400; well-formed ones go, so the rest of
    the request is tried."""
    if not isinstance(site, dict) or not isinstance(site.get("peerings"), list):
        return
    props = ctx.operation.schema.raw_schema["components"]["schemas"]["PeeringRequest"]["properties"]
    patterns = {k: re.compile(v["pattern"]) for k, v in props.items()}
    required = {"providerAddress", "customerAddress"}

    def well_formed(p):
        return (
            isinstance(p, dict)
            and required <= set(p) <= set(patterns)
            and all(
                (v is None and k not in required) or (isinstance(v, str) and patterns[k].fullmatch(v))
                for k, v in p.items()
            )
        )

    if all(well_formed(p) for p in site["peerings"]):
        del site["peerings"]


# Random ids name nothing, and every request with one is answered 404: the test makes an attach
# point, a connection and a second account, and well-formed ids in requests name those instead
# (but for deletions of the connection, which the other operations need).
FIXTURES = {
    "attachPoint": os.environ.get("XC_ATTACH_POINT"),
    "remoteAccount": os.environ.get("XC_REMOTE_ACCOUNT"),
    "connectionId": os.environ.get("XC_CONNECTION"),
}
CONNECTION = os.environ.get("XC_CONNECTION")
# The fixture attach point's prefix: what it may announce.
ANNOUNCE = os.environ.get("XC_ANNOUNCE")


def _use_fixtures(case, ctx):
    schemas = ctx.operation.schema.raw_schema["components"]["schemas"]
    patterns = {
        "attachPoint": re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "remoteAccount": re.compile(r"[0-9]{12}"),
        "connectionId": re.compile(schemas["ConnectionId"]["pattern"].strip("^$")),
    }
    if isinstance(case.body, dict):
        for name, value in FIXTURES.items():
            given = case.body.get(name)
            if value and isinstance(given, str) and patterns[name].fullmatch(given):
                case.body[name] = value
        policy = case.body.get("routingPolicy")
        prefix = _prefix_pattern(ctx)
        if (
            ANNOUNCE
            and isinstance(policy, dict)
            and isinstance(policy.get("announce"), list)
            and all(isinstance(p, str) and prefix.fullmatch(p) for p in policy["announce"])
        ):
            policy["announce"] = [ANNOUNCE]
    path = case.path_parameters
    if (
        CONNECTION
        and case.path.startswith("/v1/connections/{id}")
        and not (case.method.upper() == "DELETE" and case.path == "/v1/connections/{id}")
        and isinstance(path, dict)
        and isinstance(path.get("id"), str)
        and re.fullmatch(schemas["ConnectionId"]["pattern"], path["id"])
    ):
        path["id"] = CONNECTION


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # Every phase's cases pass here (the coverage phase's too), just before they are sent.
    if isinstance(case.body, (dict, list)):
        case.body = _walk(case.body, _prefix_pattern(ctx))
        _fit_environment(case, ctx)
    if isinstance(case.query, dict):
        case.query.pop("nextToken", None)
        if case.path == "/v1/connections/{id}/metrics":
            # A span's start must come before its end and hold at most 1,440 periods, and a
            # cause goes with ConnectionDroppedPackets only: rules across members that the
            # schema cannot say; the defaults (the last hour) keep the rest of the query valid.
            case.query.pop("start", None)
            case.query.pop("end", None)
            if case.query.get("metric") not in (None, "ConnectionDroppedPackets"):
                case.query.pop("cause", None)
        if case.path == "/v1/connections/{id}/flow-log/records":
            # `until` comes after `since`: the defaults (the last 10 minutes) keep it so.
            case.query.pop("since", None)
            case.query.pop("until", None)
    if case.path == "/v1/cost/compare" and isinstance(case.query, dict):
        _fit_cost_compare(case.query, ctx)
    if case.path == "/v1/alarms" and isinstance(case.body, dict):
        _fit_alarm(case.body)
    if case.path == "/v1/webhooks" and isinstance(case.body, dict):
        _fit_webhook(case.body)
    if case.path == "/v1/alarms/{id}" and case.method.upper() == "PATCH" and isinstance(case.body, dict):
        _fit_alarm_update(case.body)
    _use_fixtures(case, ctx)
    _keep_fixture_prefixes(case)
    if _positive(case):
        _fit_path_ids(case)
        _fit_filters(case)


# A stateful run passes ids between operations by name, so an attach point's id may land where a
# security group's is wanted: the server answers 400 (not an id of that kind), which is right,
# but the run takes a value from a link for schema-valid. Such an id becomes one of the right
# kind that names nothing (answered 404).
PATH_IDS = {
    "/v1/security-groups/": (re.compile(r"sg-[0-9a-f]{16}"), "sg-0000000000000000"),
    "/v1/network-acls/": (re.compile(r"acl-[0-9a-f]{16}"), "acl-0000000000000000"),
    "/v1/prefix-lists/": (re.compile(r"pl-[0-9a-f]{16}"), "pl-0000000000000000"),
}


def _fit_path_ids(case):
    path = case.path_parameters
    if not isinstance(path, dict) or not isinstance(path.get("id"), str):
        return
    for prefix, (pattern, placeholder) in PATH_IDS.items():
        if case.path.startswith(prefix) and not pattern.fullmatch(path["id"]):
            path["id"] = placeholder


def _keep_fixture_prefixes(case):
    """The fixture attach point keeps its prefix (a stateful run may update it between other
    calls, and the checks of `_fit_check` need a packet from inside it)."""
    path = case.path_parameters
    if (
        case.method.upper() == "PATCH"
        and case.path == "/v1/attach-points/{id}"
        and ANNOUNCE
        and isinstance(path, dict)
        and path.get("id") == FIXTURES["attachPoint"]
        and isinstance(case.body, dict)
        and isinstance(case.body.get("prefixes"), list)
    ):
        case.body["prefixes"] = [ANNOUNCE]


def _positive(case):
    """Whether the case is meant to be valid (a negative one is left as generated)."""
    meta = getattr(case, "meta", None)
    return meta is None or not meta.generation.mode.is_negative


# A rule's members go together in ways no schema says (EC2's rules): ports with tcp and udp
# only, an ICMP type with icmp and icmpv6 only (and a code with a type), one peer per rule of
# the protocol's family, host bits clear; a group's rule has no number, action or id (the server
# gives ids), an ACL's rule has a number and an action and no prefix list. A generated prefix
# list id names nothing (answered 409), so a prefix takes its place.
PORTED = {"tcp", "udp", "6", "17"}
ICMP4 = {"icmp", "1"}
ICMP6 = {"icmpv6", "58"}


def _cleared(p):
    try:
        return str(ipaddress.ip_network(p, strict=False))
    except (TypeError, ValueError):
        return p


def _fit_rule(rule, acl):
    if not isinstance(rule, dict) or not isinstance(rule.get("ipProtocol"), str):
        return
    proto = rule["ipProtocol"]
    if acl:
        rule.pop("ruleId", None)
        rule.pop("prefixListId", None)
        if rule.get("ruleNumber") is None:
            rule["ruleNumber"] = 100
        if rule.get("ruleAction") is None:
            rule["ruleAction"] = "allow"
    else:
        for k in ("ruleId", "ruleNumber", "ruleAction", "prefixListId"):
            rule.pop(k, None)
    if proto in PORTED:
        f, t = rule.get("fromPort"), rule.get("toPort")
        if f is None and t is not None:
            rule["fromPort"] = f = t
        if isinstance(f, int) and isinstance(t, int) and t < f:
            rule["fromPort"], rule["toPort"] = t, f
    else:
        rule.pop("fromPort", None)
        rule.pop("toPort", None)
    if proto in ICMP4 | ICMP6:
        if rule.get("icmpType") is None:
            rule.pop("icmpCode", None)
    else:
        rule.pop("icmpType", None)
        rule.pop("icmpCode", None)
    v4, v6 = rule.get("cidrIp"), rule.get("cidrIpv6")
    rule.pop("cidrIp", None)
    rule.pop("cidrIpv6", None)
    if proto in ICMP6 or (v4 is None and v6 is not None and proto not in ICMP4):
        rule["cidrIpv6"] = _cleared(v6) if v6 is not None else "fd09::/32"
    else:
        rule["cidrIp"] = _cleared(v4) if v4 is not None else "10.9.0.0/16"


def _fit_check(case):
    """A packet between the fixture attach point (10.200.0.0/16, IPv4) and an address outside it,
    with a port when its protocol has ports."""
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("protocol"), str):
        return
    if FIXTURES["attachPoint"] and isinstance(case.path_parameters, dict):
        case.path_parameters["id"] = FIXTURES["attachPoint"]
    if body["protocol"] in ICMP6:
        body["protocol"] = "icmp"
    body["from"], body["to"] = "10.200.0.1", "10.9.0.1"
    if body["protocol"] in PORTED:
        if body.get("port") is None:
            body["port"] = 443
    else:
        body.pop("port", None)


def _fit_filters(case):
    method = case.method.upper()
    if method != "POST" or not isinstance(case.body, dict):
        return
    if case.path in ("/v1/security-groups/{id}/authorize", "/v1/security-groups/{id}/revoke"):
        if isinstance(case.body.get("rules"), list):
            for rule in case.body["rules"]:
                _fit_rule(rule, acl=False)
    elif case.path == "/v1/network-acls/{id}/rules":
        _fit_rule(case.body, acl=True)
    elif case.path == "/v1/attach-points/{id}/check":
        _fit_check(case)


def _fit_cost_compare(query, ctx):
    """A well-formed bandwidth is one the environment offers (as for a create)."""
    env_id, bandwidth = query.get("environmentId"), query.get("bandwidth")
    env = _environment(env_id) if isinstance(env_id, str) else None
    pattern = re.compile(ctx.operation.schema.raw_schema["components"]["schemas"]["Bandwidth"]["pattern"])
    if env is not None and isinstance(bandwidth, str) and pattern.fullmatch(bandwidth):
        if bandwidth not in env["supportedBandwidths"]:
            query["bandwidth"] = env["supportedBandwidths"][0]


def _fit_alarm(body):
    """An alarm looks back a day at most (evaluation periods times period) and alarms on at most
    as many periods as it looks at: rules across members that the schema cannot say."""
    period, n, m = body.get("period"), body.get("evaluationPeriods"), body.get("datapointsToAlarm")
    if isinstance(period, int) and period > 0 and isinstance(n, int) and n >= 1:
        body["evaluationPeriods"] = n = max(1, min(n, 86400 // period))
    if isinstance(n, int) and isinstance(m, int) and 1 <= n < m:
        body["datapointsToAlarm"] = n


def _fit_alarm_update(body):
    """The same rules for a change, where a member left out keeps the alarm's value: the span is
    kept within a day for the longest period, and M within N, whatever the alarm had."""
    period = body.get("period")
    period = period if isinstance(period, int) and period > 0 else 86400
    n = body.get("evaluationPeriods")
    if isinstance(n, int) and n >= 1:
        body["evaluationPeriods"] = n = max(1, min(n, 86400 // period))
    elif "period" in body:
        body["evaluationPeriods"] = n = 1
    else:
        n = None
    m = body.get("datapointsToAlarm")
    if n is not None and not isinstance(m, int):
        body["datapointsToAlarm"] = n
    elif isinstance(m, int) and m > (n or 1):
        body["datapointsToAlarm"] = n or 1


def _fit_webhook(body):
    """A webhook goes to a public address, which the schema cannot say: a host that a URL parser
    reads as an IPv4 address (its last label a number: `0`, `10.1.2.3`, `0x7f`) may be a
    refused one, so it is made a name that never resolves (RFC 2606's `.invalid`)."""
    url = body.get("url")
    if not isinstance(url, str):
        return
    m = re.fullmatch(r"(https?://)([A-Za-z0-9.-]+)(.*)", url, re.DOTALL)
    if not m:
        return
    last = m.group(2).rstrip(".").split(".")[-1]
    if re.fullmatch(r"[0-9]+|0[xX][0-9A-Fa-f]*", last):
        body["url"] = m.group(1) + "hooks.invalid" + m.group(3)
