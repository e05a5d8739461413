//! Atomic checkpoint files and directories (write a temporary, fsync, rename).

use std::path::Path;

use crate::TrainError;

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    superpose_fsutil::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}

pub use superpose_fsutil::sync_dir;
