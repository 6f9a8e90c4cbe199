//! Flow logs in the format of VPC Flow Logs version 2: one record per flow, direction and
//! action over an aggregation window, with the link as the interface.
//!
//! ```text
//! version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
//! 2 123456789012 17 10.0.0.1 10.1.0.1 40102 23 6 1 60 1733251200 1733251200 REJECT OK
//! ```
//!
//! `account-id` is the account of the attach point whose gateway saw the flow, `interface-id` the
//! link's id, `start` and `end` the Unix seconds of the record's first and last packet within
//! the window, `bytes` the IP packets' lengths. A record whose flows could not all be kept (a
//! window with more flows than a link keeps, or a queue full when the window closed) is a
//! `SKIPDATA` record with `-` in the fields it cannot tell, as AWS writes it. There is no `NODATA`
//! record: a window without traffic writes nothing.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The format's version, the first field of every record.
pub const VERSION: u8 = 2;

/// The fields, in order: the first line of a text export and of a gateway's file.
pub const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// The aggregation windows a connection's flow log may use, in seconds (AWS's two).
pub const AGGREGATION_SECS: [u32; 2] = [60, 10];

/// The largest sampling rate: one flow in this many.
pub const MAX_SAMPLING: u32 = 1_000_000;

/// Most records a gateway sends with one status report (about 600 KB of JSON at most, well
/// inside the report's 2 MiB); the rest wait for the next, 2 s later.
pub const MAX_RECORDS_PER_REPORT: usize = 2_000;

/// Whether the filters let the record's packets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowAction {
    Accept,
    Reject,
}

impl FlowAction {
    pub fn parse(s: &str) -> Result<Self, crate::InvalidValue> {
        match s {
            "ACCEPT" => Ok(Self::Accept),
            "REJECT" => Ok(Self::Reject),
            _ => Err(crate::InvalidValue::new("action is `ACCEPT` or `REJECT`")),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Reject => "REJECT",
        }
    }
}
crate::string_newtype!(FlowAction, values = vec!["ACCEPT", "REJECT"]);

/// Whether a record is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStatus {
    /// Data is logging normally.
    Ok,
    /// Some records of the window were skipped (the link's window or the gateway's queue was
    /// full).
    SkipData,
}

impl LogStatus {
    pub fn parse(s: &str) -> Result<Self, crate::InvalidValue> {
        match s {
            "OK" => Ok(Self::Ok),
            "SKIPDATA" => Ok(Self::SkipData),
            _ => Err(crate::InvalidValue::new("log status is `OK` or `SKIPDATA`")),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ok => "OK",
            Self::SkipData => "SKIPDATA",
        }
    }
}
crate::string_newtype!(LogStatus, values = vec!["OK", "SKIPDATA"]);

/// What one link logs, as the control plane tells the attach point's gateway (in its filter
/// policy, keyed by the link's name): the record's account and interface ids, one flow in
/// `sampling` (chosen by a hash of the flow, so a sampled flow is logged whole, both ways), and
/// the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLogSpec {
    pub account_id: String,
    pub interface_id: String,
    #[serde(default = "one")]
    pub sampling: u32,
    #[serde(default = "sixty")]
    pub aggregation_secs: u32,
}

fn one() -> u32 {
    1
}
fn sixty() -> u32 {
    60
}

impl FlowLogSpec {
    /// Checks the sampling rate and the window.
    pub fn validate(&self) -> Result<(), crate::InvalidValue> {
        validate_settings(self.sampling, self.aggregation_secs)
    }
}

/// Checks a sampling rate (1 to [`MAX_SAMPLING`]) and a window (one of [`AGGREGATION_SECS`]).
pub fn validate_settings(sampling: u32, aggregation_secs: u32) -> Result<(), crate::InvalidValue> {
    if !(1..=MAX_SAMPLING).contains(&sampling) {
        return Err(crate::InvalidValue::new(format!(
            "sampling is one flow in N, N from 1 to {MAX_SAMPLING}"
        )));
    }
    if !AGGREGATION_SECS.contains(&aggregation_secs) {
        return Err(crate::InvalidValue::new(
            "the aggregation interval is 60 or 10 seconds",
        ));
    }
    Ok(())
}

/// One record. The fields a `SKIPDATA` record cannot tell are `None` (`-` in text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLogRecord {
    pub version: u8,
    pub account_id: String,
    pub interface_id: String,
    pub srcaddr: Option<IpAddr>,
    pub dstaddr: Option<IpAddr>,
    pub srcport: Option<u16>,
    pub dstport: Option<u16>,
    pub protocol: Option<u8>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    /// Unix seconds.
    pub start: i64,
    /// Unix seconds.
    pub end: i64,
    pub action: Option<FlowAction>,
    pub log_status: LogStatus,
}

fn field<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), T::to_string)
}

impl FlowLogRecord {
    /// A record saying that some of an interface's records between `start` and `end` are lost.
    pub fn skipped(account_id: &str, interface_id: &str, start: i64, end: i64) -> Self {
        Self {
            version: VERSION,
            account_id: account_id.to_owned(),
            interface_id: interface_id.to_owned(),
            srcaddr: None,
            dstaddr: None,
            srcport: None,
            dstport: None,
            protocol: None,
            packets: None,
            bytes: None,
            start,
            end,
            action: None,
            log_status: LogStatus::SkipData,
        }
    }

    /// The record as a line of text, fields in [`HEADER`]'s order.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            self.version,
            self.account_id,
            self.interface_id,
            field(&self.srcaddr),
            field(&self.dstaddr),
            field(&self.srcport),
            field(&self.dstport),
            field(&self.protocol),
            field(&self.packets),
            field(&self.bytes),
            self.start,
            self.end,
            field(&self.action),
            self.log_status
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_a_line_of_vpc_flow_logs_version_2() {
        let r = FlowLogRecord {
            version: VERSION,
            account_id: "123456789012".into(),
            interface_id: "17".into(),
            srcaddr: Some("10.0.0.1".parse().expect("addr")),
            dstaddr: Some("10.1.0.1".parse().expect("addr")),
            srcport: Some(40102),
            dstport: Some(23),
            protocol: Some(6),
            packets: Some(1),
            bytes: Some(60),
            start: 1_733_251_200,
            end: 1_733_251_201,
            action: Some(FlowAction::Reject),
            log_status: LogStatus::Ok,
        };
        assert_eq!(
            r.line(),
            "2 123456789012 17 10.0.0.1 10.1.0.1 40102 23 6 1 60 1733251200 1733251201 REJECT OK"
        );
        assert_eq!(HEADER.split(' ').count(), r.line().split(' ').count());
        assert_eq!(
            FlowLogRecord::skipped("123456789012", "17", 5, 6).line(),
            "2 123456789012 17 - - - - - - - 5 6 - SKIPDATA"
        );
    }

    #[test]
    fn settings_are_bounded() {
        assert!(validate_settings(1, 60).is_ok());
        assert!(validate_settings(MAX_SAMPLING, 10).is_ok());
        assert!(validate_settings(0, 60).is_err());
        assert!(validate_settings(MAX_SAMPLING + 1, 60).is_err());
        assert!(validate_settings(1, 30).is_err());
    }
}
