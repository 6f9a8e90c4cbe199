//! Files that hold secrets: the gateway's credential and saved configuration, the control
//! plane's master key and bootstrap credentials.

use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Writes `data` to `path` readable by its owner only (mode 0600), atomically: a reader sees the
/// old contents or the new, never a part, and a crash leaves no half-written file behind.
pub fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    // A leftover from a crash may have another mode, or be a link: start from nothing.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    // The rename itself is durable once the directory is.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn replaces_contents_with_owner_only_mode() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("secret.json");
        std::fs::write(&path, b"old, world-readable").expect("old file");
        write_private(&path, b"new").expect("write_private");
        assert_eq!(std::fs::read(&path).expect("read back"), b"new");
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!dir.path().join("secret.tmp").exists());
    }
}
