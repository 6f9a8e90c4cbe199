//! The numbers of the protocol, named: NOTIFICATION error codes and subcodes (RFC 4271 4.5,
//! RFC 4486, RFC 9384, RFC 9687), capability codes (RFC 5492 and the documents that define each)
//! and well-known communities (RFC 1997 and the IANA registry), with the text people read for a
//! NOTIFICATION ([`describe`]).

macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value,)*
        }

        impl $name {
            pub fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $($value => Some(Self::$variant),)*
                    _ => None,
                }
            }
            /// What people call it.
            pub fn text(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                v as u8
            }
        }
    };
}

codes! {
    /// NOTIFICATION error codes.
    ErrorCode {
        MessageHeader = 1 => "Message Header Error",
        OpenMessage = 2 => "OPEN Message Error",
        UpdateMessage = 3 => "UPDATE Message Error",
        HoldTimerExpired = 4 => "Hold Timer Expired",
        FiniteStateMachine = 5 => "Finite State Machine Error",
        Cease = 6 => "Cease",
        RouteRefresh = 7 => "ROUTE-REFRESH Message Error",
        SendHoldTimerExpired = 8 => "Send Hold Timer Expired",
    }
}

codes! {
    /// Subcodes of Message Header Error.
    HeaderSubcode {
        ConnectionNotSynchronized = 1 => "Connection Not Synchronized",
        BadMessageLength = 2 => "Bad Message Length",
        BadMessageType = 3 => "Bad Message Type",
    }
}

codes! {
    /// Subcodes of OPEN Message Error.
    OpenSubcode {
        Unspecific = 0 => "Unspecific",
        UnsupportedVersionNumber = 1 => "Unsupported Version Number",
        BadPeerAs = 2 => "Bad Peer AS",
        BadBgpIdentifier = 3 => "Bad BGP Identifier",
        UnsupportedOptionalParameter = 4 => "Unsupported Optional Parameter",
        UnacceptableHoldTime = 6 => "Unacceptable Hold Time",
        UnsupportedCapability = 7 => "Unsupported Capability",
    }
}

codes! {
    /// Subcodes of UPDATE Message Error.
    UpdateSubcode {
        MalformedAttributeList = 1 => "Malformed Attribute List",
        UnrecognizedWellKnownAttribute = 2 => "Unrecognized Well-known Attribute",
        MissingWellKnownAttribute = 3 => "Missing Well-known Attribute",
        AttributeFlagsError = 4 => "Attribute Flags Error",
        AttributeLengthError = 5 => "Attribute Length Error",
        InvalidOriginAttribute = 6 => "Invalid ORIGIN Attribute",
        InvalidNextHopAttribute = 8 => "Invalid NEXT_HOP Attribute",
        OptionalAttributeError = 9 => "Optional Attribute Error",
        InvalidNetworkField = 10 => "Invalid Network Field",
        MalformedAsPath = 11 => "Malformed AS_PATH",
    }
}

codes! {
    /// Subcodes of Cease (RFC 4486, RFC 8203, RFC 9384).
    CeaseSubcode {
        MaximumNumberOfPrefixesReached = 1 => "Maximum Number of Prefixes Reached",
        AdministrativeShutdown = 2 => "Administrative Shutdown",
        PeerDeconfigured = 3 => "Peer De-configured",
        AdministrativeReset = 4 => "Administrative Reset",
        ConnectionRejected = 5 => "Connection Rejected",
        OtherConfigurationChange = 6 => "Other Configuration Change",
        ConnectionCollisionResolution = 7 => "Connection Collision Resolution",
        OutOfResources = 8 => "Out of Resources",
        HardReset = 9 => "Hard Reset",
        BfdDown = 10 => "BFD Down",
    }
}

codes! {
    /// Capability codes.
    CapabilityCode {
        /// RFC 4760.
        Multiprotocol = 1 => "Multiprotocol Extensions",
        /// RFC 2918.
        RouteRefresh = 2 => "Route Refresh",
        /// RFC 4724.
        GracefulRestart = 64 => "Graceful Restart",
        /// RFC 6793.
        FourOctetAs = 65 => "4-octet AS number",
    }
}

/// Well-known communities (RFC 1997, RFC 7999, RFC 8326, RFC 3765).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WellKnownCommunity {
    /// Not advertised outside the AS (to no eBGP neighbour).
    NoExport,
    /// Not advertised to any neighbour.
    NoAdvertise,
    /// Not advertised outside the confederation member AS.
    NoExportSubconfed,
    /// Not advertised to any peer (RFC 3765).
    NoPeer,
    /// The path is being shut down gracefully (RFC 8326): prefer others.
    GracefulShutdown,
    /// Traffic to the prefix is to be dropped (RFC 7999).
    Blackhole,
}

impl WellKnownCommunity {
    pub fn value(self) -> u32 {
        match self {
            Self::NoExport => 0xFFFF_FF01,
            Self::NoAdvertise => 0xFFFF_FF02,
            Self::NoExportSubconfed => 0xFFFF_FF03,
            Self::NoPeer => 0xFFFF_FF04,
            Self::GracefulShutdown => 0xFFFF_0000,
            Self::Blackhole => 0xFFFF_029A,
        }
    }

    pub fn from_value(v: u32) -> Option<Self> {
        [
            Self::NoExport,
            Self::NoAdvertise,
            Self::NoExportSubconfed,
            Self::NoPeer,
            Self::GracefulShutdown,
            Self::Blackhole,
        ]
        .into_iter()
        .find(|c| c.value() == v)
    }

    /// Whether a route carrying this community may be advertised to an eBGP neighbour.
    pub fn allows_ebgp_advertisement(self) -> bool {
        !matches!(
            self,
            Self::NoExport | Self::NoAdvertise | Self::NoExportSubconfed | Self::NoPeer
        )
    }
}

/// A NOTIFICATION in words, with its numbers: "Cease / Maximum Number of Prefixes Reached (limit
/// 2) (6/1)".
pub fn describe(code: u8, subcode: u8, data: &[u8]) -> String {
    let what = match ErrorCode::from_u8(code) {
        None => format!("error code {code} subcode {subcode}"),
        Some(c) => {
            let sub = match c {
                ErrorCode::MessageHeader => {
                    HeaderSubcode::from_u8(subcode).map(HeaderSubcode::text)
                }
                ErrorCode::OpenMessage => OpenSubcode::from_u8(subcode).map(OpenSubcode::text),
                ErrorCode::UpdateMessage => {
                    UpdateSubcode::from_u8(subcode).map(UpdateSubcode::text)
                }
                ErrorCode::Cease => CeaseSubcode::from_u8(subcode).map(CeaseSubcode::text),
                _ => None,
            };
            let limit = (c == ErrorCode::Cease
                && subcode == CeaseSubcode::MaximumNumberOfPrefixesReached as u8)
                .then(|| data.get(3..7))
                .flatten()
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            match (sub, limit) {
                (Some(s), Some(l)) => format!("{} / {s} (limit {l})", c.text()),
                (Some(s), None) => format!("{} / {s}", c.text()),
                (None, _) if subcode == 0 => c.text().to_owned(),
                (None, _) => format!("{} / subcode {subcode}", c.text()),
            }
        }
    };
    format!("{what} ({code}/{subcode})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_in_words() {
        let limit = [0, 1, 1, 0, 0, 0, 2];
        for (code, sub, data, text) in [
            (
                6,
                1,
                &limit[..],
                "Cease / Maximum Number of Prefixes Reached (limit 2) (6/1)",
            ),
            (
                6,
                1,
                &[][..],
                "Cease / Maximum Number of Prefixes Reached (6/1)",
            ),
            (6, 2, &[][..], "Cease / Administrative Shutdown (6/2)"),
            (
                6,
                7,
                &[][..],
                "Cease / Connection Collision Resolution (6/7)",
            ),
            (6, 10, &[][..], "Cease / BFD Down (6/10)"),
            (6, 42, &[][..], "Cease / subcode 42 (6/42)"),
            (2, 2, &[][..], "OPEN Message Error / Bad Peer AS (2/2)"),
            (4, 0, &[][..], "Hold Timer Expired (4/0)"),
            (
                3,
                11,
                &[][..],
                "UPDATE Message Error / Malformed AS_PATH (3/11)",
            ),
            (
                1,
                2,
                &[][..],
                "Message Header Error / Bad Message Length (1/2)",
            ),
            (8, 0, &[][..], "Send Hold Timer Expired (8/0)"),
            (99, 1, &[][..], "error code 99 subcode 1 (99/1)"),
        ] {
            assert_eq!(describe(code, sub, data), text);
        }
    }

    #[test]
    fn codes_round_trip() {
        for c in 0..=255u8 {
            if let Some(e) = CeaseSubcode::from_u8(c) {
                assert_eq!(u8::from(e), c);
            }
            if let Some(e) = CapabilityCode::from_u8(c) {
                assert_eq!(e as u8, c);
            }
        }
        assert_eq!(
            WellKnownCommunity::from_value(0xFFFF_FF01),
            Some(WellKnownCommunity::NoExport)
        );
        assert!(!WellKnownCommunity::NoAdvertise.allows_ebgp_advertisement());
        assert!(WellKnownCommunity::Blackhole.allows_ebgp_advertisement());
    }
}
