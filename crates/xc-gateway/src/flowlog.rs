//! Flow logs on the gateway: the records the links' windows closed, taken from the filter,
//! appended to a plain file for local collectors, and (managed) held for the status reports
//! until the control plane has them.
//!
//! The file is text, VPC Flow Logs version 2, a header line first; at [`ROTATE_AT`] bytes it is
//! renamed to `PATH.1` (replacing the one before) and a new one started, so it never grows
//! past twice that.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use xc_types::flowlog::{FlowLogRecord, HEADER, MAX_RECORDS_PER_REPORT};

/// The file's size at which it is rotated.
pub const ROTATE_AT: u64 = 64 * 1024 * 1024;

/// Most records a managed gateway holds for the control plane (about 10 MB); past it, the
/// oldest go (they are still in the file).
pub const MAX_PENDING: usize = 50_000;

/// The flow-log file.
#[derive(Debug)]
pub struct FlowLogFile {
    path: PathBuf,
    file: Option<(File, u64)>,
    rotate_at: u64,
}

impl FlowLogFile {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            file: None,
            rotate_at: ROTATE_AT,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, appended to, with its size; a new file starts with the header.
    fn open(&self) -> io::Result<(File, u64)> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut size = f.metadata()?.len();
        if size == 0 {
            writeln!(f, "{HEADER}")?;
            size = HEADER.len() as u64 + 1;
        }
        Ok((f, size))
    }

    /// Appends `records`, one line each.
    pub fn write(&mut self, records: &[FlowLogRecord]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for r in records {
            text.push_str(&r.line());
            text.push('\n');
        }
        if self.file.is_none() {
            self.file = Some(self.open()?);
        }
        if self
            .file
            .as_ref()
            .is_some_and(|(_, size)| *size >= self.rotate_at)
        {
            self.file = None;
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, old)?;
            self.file = Some(self.open()?);
        }
        let Some((file, size)) = &mut self.file else {
            return Ok(());
        };
        file.write_all(text.as_bytes())?;
        *size += text.len() as u64;
        Ok(())
    }
}

/// Takes the records waiting in `filter` and writes them to `file`; returns them.
pub fn drain(filter: &xc_filter::Filter, file: Option<&mut FlowLogFile>) -> Vec<FlowLogRecord> {
    let records = filter.take_flow_logs(usize::MAX);
    if let Some(f) = file
        && let Err(e) = f.write(&records)
    {
        tracing::warn!(error = %e, path = %f.path().display(), "cannot write the flow log");
    }
    records
}

/// Records on their way to the control plane: sent with each report, forgotten once it took
/// them.
#[derive(Debug, Default)]
pub struct Pending {
    records: VecDeque<FlowLogRecord>,
    dropped: u64,
}

impl Pending {
    pub fn add(&mut self, records: Vec<FlowLogRecord>) {
        self.records.extend(records);
        let over = self.records.len().saturating_sub(MAX_PENDING);
        if over > 0 {
            self.records.drain(..over);
            self.dropped += over as u64;
            tracing::warn!(
                dropped = self.dropped,
                "flow-log records the controller has not taken are too many: the oldest are only in the file"
            );
        }
    }

    /// The records for the next report (at most [`MAX_RECORDS_PER_REPORT`]).
    pub fn next(&self) -> Vec<FlowLogRecord> {
        self.records
            .iter()
            .take(MAX_RECORDS_PER_REPORT)
            .cloned()
            .collect()
    }

    /// The controller took the first `n`.
    pub fn sent(&mut self, n: usize) {
        let n = n.min(self.records.len());
        self.records.drain(..n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: i64) -> FlowLogRecord {
        FlowLogRecord::skipped("111122223333", "7", i, i)
    }

    #[test]
    fn the_file_has_a_header_then_lines_and_rotates() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("flow-log.txt");
        let mut f = FlowLogFile::new(&path);
        // The header and two records: 206 bytes.
        f.rotate_at = 250;
        f.write(&[record(1), record(2)]).expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines[1], record(1).line());
        assert_eq!(lines.len(), 3);
        // Reopened (a restart): no second header.
        let mut again = FlowLogFile::new(&path);
        again.rotate_at = 250;
        again.write(&[record(3)]).expect("writes");
        assert_eq!(
            std::fs::read_to_string(&path)
                .expect("reads")
                .lines()
                .count(),
            4
        );
        // Past 250 bytes: the next write starts a new file.
        again.write(&[record(4)]).expect("rotates");
        again.write(&[record(5)]).expect("writes");
        let old = std::fs::read_to_string(dir.path().join("flow-log.txt.1")).expect("reads");
        assert!(old.ends_with(&format!("{}\n", record(3).line())), "{old}");
        let new = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(
            new,
            format!("{HEADER}\n{}\n{}\n", record(4).line(), record(5).line())
        );
    }

    #[test]
    fn pending_records_are_bounded_and_sent_in_order() {
        let mut p = Pending::default();
        p.add((0..MAX_PENDING as i64 + 10).map(record).collect());
        let first = p.next();
        assert_eq!(first.len(), MAX_RECORDS_PER_REPORT);
        assert_eq!(first[0].start, 10, "the oldest went");
        p.sent(first.len());
        assert_eq!(p.next()[0].start, 10 + MAX_RECORDS_PER_REPORT as i64);
    }
}
