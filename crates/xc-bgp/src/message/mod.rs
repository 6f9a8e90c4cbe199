//! BGP messages (RFC 4271 section 4) with the extensions xconnect speaks: capabilities (RFC 5492),
//! multiprotocol NLRI (RFC 4760), 4-octet AS numbers (RFC 6793), route refresh (RFC 2918) and
//! graceful restart (RFC 4724).
//!
//! ```text
//!  marker(16 x FF) | length(2, 19..4096) | type(1) | body
//! ```
//! Decoding never panics; every error names the NOTIFICATION that answers it
//! ([`DecodeError::notification`]). AS_PATHs are encoded and decoded with 4-octet AS numbers, as
//! both ends of every xconnect session negotiate the capability.

pub mod codes;

use codes::{CapabilityCode, CeaseSubcode, ErrorCode, HeaderSubcode, OpenSubcode, UpdateSubcode};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const HEADER_LEN: usize = 19;
pub const MAX_LEN: usize = 4096;
pub const AS_TRANS: u16 = 23456;
pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const SAFI_UNICAST: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// The speaker's ASN (4-octet; the 2-octet field carries AS_TRANS when it does not fit).
    pub asn: u32,
    pub hold_time: u16,
    pub router_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    Multiprotocol {
        afi: u16,
        safi: u8,
    },
    RouteRefresh,
    FourOctetAs(u32),
    GracefulRestart {
        restarting: bool,
        time: u16,
        families: Vec<(u16, u8, bool)>,
    },
    Unknown {
        code: u8,
        value: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsPathSegment {
    Set(Vec<u32>),
    Sequence(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    Origin(Origin),
    AsPath(Vec<AsPathSegment>),
    NextHop(Ipv4Addr),
    Med(u32),
    LocalPref(u32),
    Communities(Vec<u32>),
    MpReach {
        afi: u16,
        safi: u8,
        next_hops: Vec<IpAddr>,
        nlri: Vec<IpNet>,
    },
    MpUnreach {
        afi: u16,
        safi: u8,
        withdrawn: Vec<IpNet>,
    },
    /// An attribute this speaker does not interpret, kept to be passed on when transitive.
    Other {
        flags: u8,
        code: u8,
        value: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Net>,
    pub attributes: Vec<Attribute>,
    pub nlri: Vec<Ipv4Net>,
    /// Set when a path attribute was malformed in a way that RFC 7606 answers with
    /// "treat-as-withdraw" (ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES): the
    /// attribute is left out and the receiver withdraws the UPDATE's prefixes instead of resetting
    /// the session. Never encoded.
    pub malformed: Option<DecodeError>,
}

/// A NOTIFICATION as on the wire (codes a peer sends may be unknown here); build ours with the
/// typed constructors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: ErrorCode, subcode: u8, data: Vec<u8>) -> Self {
        Self {
            code: code.into(),
            subcode,
            data,
        }
    }
    pub fn cease(subcode: CeaseSubcode) -> Self {
        Self::new(ErrorCode::Cease, subcode.into(), Vec::new())
    }
    pub fn open_error(subcode: OpenSubcode, data: Vec<u8>) -> Self {
        Self::new(ErrorCode::OpenMessage, subcode.into(), data)
    }
    pub fn update_error(subcode: UpdateSubcode, data: Vec<u8>) -> Self {
        Self::new(ErrorCode::UpdateMessage, subcode.into(), data)
    }
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_u8(self.code)
    }
    /// Whether it is a Cease with this subcode.
    pub fn is_cease(&self, subcode: CeaseSubcode) -> bool {
        self.code == u8::from(ErrorCode::Cease) && self.subcode == u8::from(subcode)
    }
    /// In words, with its numbers: "Cease / Administrative Shutdown (6/2)".
    pub fn describe(&self) -> String {
        codes::describe(self.code, self.subcode, &self.data)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: u16,
    pub safi: u8,
}

/// A malformed message, with the NOTIFICATION (RFC 4271 6) that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("connection not synchronized (bad marker)")]
    Marker,
    #[error("bad message length {0}")]
    Length(u16),
    #[error("bad message type {0}")]
    Type(u8),
    #[error("unsupported BGP version {0}")]
    Version(u8),
    #[error("bad BGP identifier")]
    RouterId,
    #[error("unacceptable hold time {0}")]
    HoldTime(u16),
    #[error("malformed optional parameters")]
    OptionalParameters,
    #[error("malformed attribute list")]
    AttributeList,
    #[error("attribute {0} has a bad length")]
    AttributeLength(u8),
    #[error("attribute {0} has bad flags")]
    AttributeFlags(u8),
    #[error("invalid ORIGIN {0}")]
    Origin(u8),
    #[error("malformed AS_PATH")]
    AsPath,
    #[error("invalid network field")]
    Network,
    #[error("malformed message body")]
    Body,
}

impl DecodeError {
    /// The NOTIFICATION error code and subcode for this error.
    pub fn notification(&self) -> (u8, u8) {
        let (code, sub): (ErrorCode, u8) = match self {
            Self::Marker => (
                ErrorCode::MessageHeader,
                HeaderSubcode::ConnectionNotSynchronized.into(),
            ),
            Self::Length(_) => (
                ErrorCode::MessageHeader,
                HeaderSubcode::BadMessageLength.into(),
            ),
            Self::Type(_) => (
                ErrorCode::MessageHeader,
                HeaderSubcode::BadMessageType.into(),
            ),
            Self::Version(_) => (
                ErrorCode::OpenMessage,
                OpenSubcode::UnsupportedVersionNumber.into(),
            ),
            Self::RouterId => (ErrorCode::OpenMessage, OpenSubcode::BadBgpIdentifier.into()),
            Self::OptionalParameters => (ErrorCode::OpenMessage, OpenSubcode::Unspecific.into()),
            Self::HoldTime(_) => (
                ErrorCode::OpenMessage,
                OpenSubcode::UnacceptableHoldTime.into(),
            ),
            Self::AttributeList | Self::Body => (
                ErrorCode::UpdateMessage,
                UpdateSubcode::MalformedAttributeList.into(),
            ),
            Self::AttributeFlags(_) => (
                ErrorCode::UpdateMessage,
                UpdateSubcode::AttributeFlagsError.into(),
            ),
            Self::AttributeLength(_) => (
                ErrorCode::UpdateMessage,
                UpdateSubcode::AttributeLengthError.into(),
            ),
            Self::Origin(_) => (
                ErrorCode::UpdateMessage,
                UpdateSubcode::InvalidOriginAttribute.into(),
            ),
            Self::Network => (
                ErrorCode::UpdateMessage,
                UpdateSubcode::InvalidNetworkField.into(),
            ),
            Self::AsPath => (
                ErrorCode::UpdateMessage,
                UpdateSubcode::MalformedAsPath.into(),
            ),
        };
        (code.into(), sub)
    }

    /// The NOTIFICATION that answers this error.
    pub fn to_notification(&self) -> Notification {
        let (code, subcode) = self.notification();
        Notification {
            code,
            subcode,
            data: Vec::new(),
        }
    }
}

/// A cursor over a byte slice that returns errors instead of panicking.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, e: DecodeError) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(e);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self, e: DecodeError) -> Result<u8, DecodeError> {
        Ok(self.take(1, e)?[0])
    }
    fn u16(&mut self, e: DecodeError) -> Result<u16, DecodeError> {
        let s = self.take(2, e)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self, e: DecodeError) -> Result<u32, DecodeError> {
        let s = self.take(4, e)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
}

fn decode_prefixes(mut b: &[u8], v6: bool) -> Result<Vec<IpNet>, DecodeError> {
    let max = if v6 { 128 } else { 32 };
    let mut out = Vec::new();
    while let Some((&len, rest)) = b.split_first() {
        if len > max {
            return Err(DecodeError::Network);
        }
        let n = usize::from(len).div_ceil(8);
        if rest.len() < n {
            return Err(DecodeError::Network);
        }
        let mut addr = [0u8; 16];
        addr[..n].copy_from_slice(&rest[..n]);
        let net = if v6 {
            IpNet::V6(
                Ipv6Net::new(Ipv6Addr::from(addr), len)
                    .map_err(|_| DecodeError::Network)?
                    .trunc(),
            )
        } else {
            let a = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
            IpNet::V4(
                Ipv4Net::new(a, len)
                    .map_err(|_| DecodeError::Network)?
                    .trunc(),
            )
        };
        out.push(net);
        b = &rest[n..];
    }
    Ok(out)
}

fn encode_prefix(out: &mut Vec<u8>, p: &IpNet) {
    let len = p.prefix_len();
    out.push(len);
    let n = usize::from(len).div_ceil(8);
    match p.network() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..n]),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..n]),
    }
}

fn v4_only(v: Vec<IpNet>) -> Result<Vec<Ipv4Net>, DecodeError> {
    v.into_iter()
        .map(|n| match n {
            IpNet::V4(n) => Ok(n),
            IpNet::V6(_) => Err(DecodeError::Network),
        })
        .collect()
}

const FLAG_OPTIONAL: u8 = 0x80;
const FLAG_TRANSITIVE: u8 = 0x40;
const FLAG_EXTENDED: u8 = 0x10;

fn decode_capabilities(mut r: Reader<'_>, out: &mut Vec<Capability>) -> Result<(), DecodeError> {
    let e = DecodeError::OptionalParameters;
    while !r.is_empty() {
        let code = r.u8(e)?;
        let len = usize::from(r.u8(e)?);
        let mut v = Reader { b: r.take(len, e)? };
        out.push(match (CapabilityCode::from_u8(code), len) {
            (Some(CapabilityCode::Multiprotocol), 4) => {
                let afi = v.u16(e)?;
                v.u8(e)?;
                Capability::Multiprotocol {
                    afi,
                    safi: v.u8(e)?,
                }
            }
            (Some(CapabilityCode::RouteRefresh), 0) => Capability::RouteRefresh,
            (Some(CapabilityCode::FourOctetAs), 4) => Capability::FourOctetAs(v.u32(e)?),
            (Some(CapabilityCode::GracefulRestart), n) if n >= 2 && (n - 2) % 4 == 0 => {
                let w = v.u16(e)?;
                let mut families = Vec::new();
                while !v.is_empty() {
                    let afi = v.u16(e)?;
                    let safi = v.u8(e)?;
                    families.push((afi, safi, v.u8(e)? & 0x80 != 0));
                }
                Capability::GracefulRestart {
                    restarting: w & 0x8000 != 0,
                    time: w & 0x0fff,
                    families,
                }
            }
            _ => Capability::Unknown {
                code,
                value: v.b.to_vec(),
            },
        });
    }
    Ok(())
}

fn encode_capability(out: &mut Vec<u8>, c: &Capability) {
    match c {
        Capability::Multiprotocol { afi, safi } => {
            out.extend_from_slice(&[CapabilityCode::Multiprotocol.into(), 4]);
            out.extend_from_slice(&afi.to_be_bytes());
            out.extend_from_slice(&[0, *safi]);
        }
        Capability::RouteRefresh => {
            out.extend_from_slice(&[CapabilityCode::RouteRefresh.into(), 0])
        }
        Capability::FourOctetAs(a) => {
            out.extend_from_slice(&[CapabilityCode::FourOctetAs.into(), 4]);
            out.extend_from_slice(&a.to_be_bytes());
        }
        Capability::GracefulRestart {
            restarting,
            time,
            families,
        } => {
            out.extend_from_slice(&[
                CapabilityCode::GracefulRestart.into(),
                (2 + 4 * families.len()) as u8,
            ]);
            let w = (u16::from(*restarting) << 15) | (time & 0x0fff);
            out.extend_from_slice(&w.to_be_bytes());
            for (afi, safi, fwd) in families {
                out.extend_from_slice(&afi.to_be_bytes());
                out.extend_from_slice(&[*safi, u8::from(*fwd) << 7]);
            }
        }
        Capability::Unknown { code, value } => {
            out.extend_from_slice(&[*code, value.len() as u8]);
            out.extend_from_slice(value);
        }
    }
}

fn decode_attribute(flags: u8, code: u8, v: &[u8]) -> Result<Attribute, DecodeError> {
    let well_known = |f: u8| f & FLAG_OPTIONAL == 0 && f & FLAG_TRANSITIVE != 0;
    let mut r = Reader { b: v };
    let len_err = DecodeError::AttributeLength(code);
    Ok(match code {
        1 | 2 | 3 | 5 if !well_known(flags) => return Err(DecodeError::AttributeFlags(code)),
        1 => {
            if v.len() != 1 {
                return Err(len_err);
            }
            Attribute::Origin(match v[0] {
                0 => Origin::Igp,
                1 => Origin::Egp,
                2 => Origin::Incomplete,
                o => return Err(DecodeError::Origin(o)),
            })
        }
        2 => {
            let mut segs = Vec::new();
            while !r.is_empty() {
                let ty = r.u8(DecodeError::AsPath)?;
                let n = usize::from(r.u8(DecodeError::AsPath)?);
                let raw = r.take(n * 4, DecodeError::AsPath)?;
                let asns: Vec<u32> = raw
                    .chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                segs.push(match ty {
                    1 => AsPathSegment::Set(asns),
                    2 => AsPathSegment::Sequence(asns),
                    _ => return Err(DecodeError::AsPath),
                });
            }
            Attribute::AsPath(segs)
        }
        3 => {
            if v.len() != 4 {
                return Err(len_err);
            }
            Attribute::NextHop(Ipv4Addr::new(v[0], v[1], v[2], v[3]))
        }
        4 | 5 => {
            if v.len() != 4 {
                return Err(len_err);
            }
            let x = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            if code == 4 {
                Attribute::Med(x)
            } else {
                Attribute::LocalPref(x)
            }
        }
        8 => {
            if !v.len().is_multiple_of(4) {
                return Err(len_err);
            }
            Attribute::Communities(
                v.chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        14 => {
            let afi = r.u16(len_err)?;
            let safi = r.u8(len_err)?;
            let nh_len = usize::from(r.u8(len_err)?);
            let nh = r.take(nh_len, len_err)?;
            r.u8(len_err)?; // reserved
            let v6 = afi == AFI_IPV6;
            let next_hops = match (v6, nh_len) {
                (false, 4) => vec![IpAddr::V4(Ipv4Addr::new(nh[0], nh[1], nh[2], nh[3]))],
                (true, 16 | 32) => nh
                    .chunks_exact(16)
                    .map(|c| {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(c);
                        IpAddr::V6(Ipv6Addr::from(a))
                    })
                    .collect(),
                _ => return Err(len_err),
            };
            Attribute::MpReach {
                afi,
                safi,
                next_hops,
                nlri: decode_prefixes(r.b, v6)?,
            }
        }
        15 => {
            let afi = r.u16(len_err)?;
            let safi = r.u8(len_err)?;
            Attribute::MpUnreach {
                afi,
                safi,
                withdrawn: decode_prefixes(r.b, afi == AFI_IPV6)?,
            }
        }
        _ => Attribute::Other {
            flags,
            code,
            value: v.to_vec(),
        },
    })
}

fn encode_attribute(out: &mut Vec<u8>, a: &Attribute) {
    let mut v = Vec::new();
    let (flags, code) = match a {
        Attribute::Origin(o) => {
            v.push(*o as u8);
            (FLAG_TRANSITIVE, 1)
        }
        Attribute::AsPath(segs) => {
            for s in segs {
                let (ty, asns) = match s {
                    AsPathSegment::Set(a) => (1, a),
                    AsPathSegment::Sequence(a) => (2, a),
                };
                v.extend_from_slice(&[ty, asns.len() as u8]);
                for a in asns {
                    v.extend_from_slice(&a.to_be_bytes());
                }
            }
            (FLAG_TRANSITIVE, 2)
        }
        Attribute::NextHop(nh) => {
            v.extend_from_slice(&nh.octets());
            (FLAG_TRANSITIVE, 3)
        }
        Attribute::Med(m) => {
            v.extend_from_slice(&m.to_be_bytes());
            (FLAG_OPTIONAL, 4)
        }
        Attribute::LocalPref(l) => {
            v.extend_from_slice(&l.to_be_bytes());
            (FLAG_TRANSITIVE, 5)
        }
        Attribute::Communities(cs) => {
            for c in cs {
                v.extend_from_slice(&c.to_be_bytes());
            }
            (FLAG_OPTIONAL | FLAG_TRANSITIVE, 8)
        }
        Attribute::MpReach {
            afi,
            safi,
            next_hops,
            nlri,
        } => {
            v.extend_from_slice(&afi.to_be_bytes());
            v.push(*safi);
            let mut nh = Vec::new();
            for h in next_hops {
                match h {
                    IpAddr::V4(a) => nh.extend_from_slice(&a.octets()),
                    IpAddr::V6(a) => nh.extend_from_slice(&a.octets()),
                }
            }
            v.push(nh.len() as u8);
            v.extend_from_slice(&nh);
            v.push(0);
            for p in nlri {
                encode_prefix(&mut v, p);
            }
            (FLAG_OPTIONAL, 14)
        }
        Attribute::MpUnreach {
            afi,
            safi,
            withdrawn,
        } => {
            v.extend_from_slice(&afi.to_be_bytes());
            v.push(*safi);
            for p in withdrawn {
                encode_prefix(&mut v, p);
            }
            (FLAG_OPTIONAL, 15)
        }
        Attribute::Other { flags, code, value } => {
            v.extend_from_slice(value);
            (*flags & !FLAG_EXTENDED, *code)
        }
    };
    if v.len() > 255 {
        out.extend_from_slice(&[flags | FLAG_EXTENDED, code]);
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags, code, v.len() as u8]);
    }
    out.extend_from_slice(&v);
}

impl Message {
    /// The total length of the message at the start of `buf`, once its header is there: lets a
    /// stream reader know how many bytes to wait for.
    pub fn peek_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        if buf[..16].iter().any(|b| *b != 0xff) {
            return Err(DecodeError::Marker);
        }
        let len = u16::from_be_bytes([buf[16], buf[17]]);
        if !(HEADER_LEN..=MAX_LEN).contains(&usize::from(len)) {
            return Err(DecodeError::Length(len));
        }
        Ok(Some(usize::from(len)))
    }

    /// Decodes one whole message (header included).
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let len = Self::peek_len(buf)?.ok_or(DecodeError::Length(buf.len() as u16))?;
        if len != buf.len() {
            return Err(DecodeError::Length(len as u16));
        }
        let ty = buf[18];
        let body = &buf[HEADER_LEN..];
        let mut r = Reader { b: body };
        let e = DecodeError::Body;
        let bad_len = DecodeError::Length(len as u16);
        match ty {
            1 => {
                let version = r.u8(bad_len)?;
                if version != 4 {
                    return Err(DecodeError::Version(version));
                }
                let my_as = r.u16(bad_len)?;
                let hold_time = r.u16(bad_len)?;
                if hold_time == 1 || hold_time == 2 {
                    return Err(DecodeError::HoldTime(hold_time));
                }
                let id = r.u32(bad_len)?;
                if id == 0 {
                    return Err(DecodeError::RouterId);
                }
                let opt_len = usize::from(r.u8(bad_len)?);
                let mut opts = Reader {
                    b: r.take(opt_len, DecodeError::OptionalParameters)?,
                };
                if !r.is_empty() {
                    return Err(bad_len);
                }
                // Either layout: all capabilities in one parameter, or one parameter each.
                let mut capabilities = Vec::new();
                while !opts.is_empty() {
                    let pty = opts.u8(DecodeError::OptionalParameters)?;
                    let plen = usize::from(opts.u8(DecodeError::OptionalParameters)?);
                    let pval = opts.take(plen, DecodeError::OptionalParameters)?;
                    if pty == 2 {
                        decode_capabilities(Reader { b: pval }, &mut capabilities)?;
                    } else {
                        return Err(DecodeError::OptionalParameters);
                    }
                }
                let asn = capabilities
                    .iter()
                    .find_map(|c| {
                        if let Capability::FourOctetAs(a) = c {
                            Some(*a)
                        } else {
                            None
                        }
                    })
                    .unwrap_or(u32::from(my_as));
                Ok(Message::Open(Open {
                    version,
                    asn,
                    hold_time,
                    router_id: Ipv4Addr::from(id),
                    capabilities,
                }))
            }
            2 => {
                let wlen = usize::from(r.u16(e)?);
                let withdrawn = v4_only(decode_prefixes(
                    r.take(wlen, DecodeError::AttributeList)?,
                    false,
                )?)?;
                let alen = usize::from(r.u16(e)?);
                let mut ar = Reader {
                    b: r.take(alen, DecodeError::AttributeList)?,
                };
                let mut attributes = Vec::new();
                let mut malformed = None;
                while !ar.is_empty() {
                    let flags = ar.u8(DecodeError::AttributeList)?;
                    let code = ar.u8(DecodeError::AttributeList)?;
                    let l = if flags & FLAG_EXTENDED != 0 {
                        usize::from(ar.u16(DecodeError::AttributeList)?)
                    } else {
                        usize::from(ar.u8(DecodeError::AttributeList)?)
                    };
                    let v = ar.take(l, DecodeError::AttributeLength(code))?;
                    match decode_attribute(flags, code, v) {
                        Ok(a) => attributes.push(a),
                        // RFC 7606 3, 7.1-7.8: these are withdrawn, not a session reset.
                        Err(e) if matches!(code, 1..=5 | 8) => malformed = Some(e),
                        Err(e) => return Err(e),
                    }
                }
                let nlri = v4_only(decode_prefixes(r.b, false)?)?;
                Ok(Message::Update(Update {
                    withdrawn,
                    attributes,
                    nlri,
                    malformed,
                }))
            }
            3 => {
                let code = r.u8(bad_len)?;
                let subcode = r.u8(bad_len)?;
                Ok(Message::Notification(Notification {
                    code,
                    subcode,
                    data: r.b.to_vec(),
                }))
            }
            4 => {
                if !body.is_empty() {
                    return Err(bad_len);
                }
                Ok(Message::Keepalive)
            }
            5 => {
                if body.len() != 4 {
                    return Err(bad_len);
                }
                let afi = r.u16(bad_len)?;
                r.u8(bad_len)?;
                Ok(Message::RouteRefresh(RouteRefresh {
                    afi,
                    safi: r.u8(bad_len)?,
                }))
            }
            t => Err(DecodeError::Type(t)),
        }
    }

    /// Encodes the message with its header.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0xff; 16];
        out.extend_from_slice(&[0, 0, 0]);
        match self {
            Message::Open(o) => {
                out[18] = 1;
                out.push(o.version);
                let two = u16::try_from(o.asn).unwrap_or(AS_TRANS);
                out.extend_from_slice(&two.to_be_bytes());
                out.extend_from_slice(&o.hold_time.to_be_bytes());
                out.extend_from_slice(&o.router_id.octets());
                let mut caps = Vec::new();
                for c in &o.capabilities {
                    encode_capability(&mut caps, c);
                }
                if caps.is_empty() {
                    out.push(0);
                } else {
                    out.push((caps.len() + 2) as u8);
                    out.extend_from_slice(&[2, caps.len() as u8]);
                    out.extend_from_slice(&caps);
                }
            }
            Message::Update(u) => {
                out[18] = 2;
                let mut w = Vec::new();
                for p in &u.withdrawn {
                    encode_prefix(&mut w, &IpNet::V4(*p));
                }
                out.extend_from_slice(&(w.len() as u16).to_be_bytes());
                out.extend_from_slice(&w);
                let mut a = Vec::new();
                for attr in &u.attributes {
                    encode_attribute(&mut a, attr);
                }
                out.extend_from_slice(&(a.len() as u16).to_be_bytes());
                out.extend_from_slice(&a);
                for p in &u.nlri {
                    encode_prefix(&mut out, &IpNet::V4(*p));
                }
            }
            Message::Notification(n) => {
                out[18] = 3;
                out.extend_from_slice(&[n.code, n.subcode]);
                out.extend_from_slice(&n.data);
            }
            Message::Keepalive => out[18] = 4,
            Message::RouteRefresh(r) => {
                out[18] = 5;
                out.extend_from_slice(&r.afi.to_be_bytes());
                out.extend_from_slice(&[0, r.safi]);
            }
        }
        let len = out.len() as u16;
        out[16..18].copy_from_slice(&len.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests;
