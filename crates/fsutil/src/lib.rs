//! Atomic file writes, the one copy every crate uses.
//!
//! A write goes to a fresh temporary file created next to the target with a unique name
//! (`tempfile`), is fsynced, renamed over the target, and the directory is fsynced so the rename
//! survives a crash. On every error path the temporary file is removed (it is deleted when the
//! `NamedTempFile` is dropped), and no other file is touched: a user's `x.tmp` next to `x` stays.

use std::io::{self, Write};
use std::path::Path;

/// The folder a path lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically: after a crash the file holds either its old content or
/// all of `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill` writing into a buffered writer.
/// If `fill` fails, the target is left as it was and the temporary file is removed.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(without_temp_path)?;
    {
        let mut w = io::BufWriter::new(tmp.as_file_mut());
        fill(&mut w)?;
        w.flush()?;
    }
    set_default_permissions(tmp.as_file())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// `tempfile`'s errors end in "at path <temp file>"; callers name the target instead.
fn without_temp_path(e: io::Error) -> io::Error {
    let msg = e.to_string();
    match msg.rfind(" at path ") {
        Some(i) if e.get_ref().is_some() => io::Error::new(e.kind(), &msg[..i]),
        _ => e,
    }
}

/// A temp file is created readable by its owner only; a written file gets the usual `rw-r--r--`.
#[cfg(unix)]
fn set_default_permissions(f: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_default_permissions(_: &std::fs::File) -> io::Result<()> {
    Ok(())
}

/// fsyncs a directory so that a rename inside it is durable (best effort: some file systems
/// refuse to open or sync a directory, and the data itself is already synced).
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces_leaving_a_users_tmp_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.plan");
        std::fs::write(dir.path().join("x.tmp"), "keep").unwrap();
        std::fs::write(dir.path().join("x.plan.tmp"), "keep too").unwrap();
        write_atomic(&target, b"first").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        assert_eq!(std::fs::read(dir.path().join("x.tmp")).unwrap(), b"keep");
        assert_eq!(
            std::fs::read(dir.path().join("x.plan.tmp")).unwrap(),
            b"keep too"
        );
        assert_eq!(names(dir.path()), ["x.plan", "x.plan.tmp", "x.tmp"]);
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file_and_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").unwrap();
        let err = write_atomic_with(&target, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.csv"]);
    }

    #[test]
    fn a_failed_rename_leaves_no_temp_file() {
        // The target is a non-empty directory, so the final rename fails.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inner"), "x").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        assert_eq!(names(dir.path()), ["sub"]);
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_nothing_created() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("no/such/dir/x");
        let e = write_atomic(&target, b"data").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(!e.to_string().contains(".tmp"), "{e}");
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_bare_file_name_writes_in_the_current_folder_path_logic() {
        assert_eq!(parent_dir(Path::new("x.plan")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/x.plan")), Path::new("a"));
    }
}
