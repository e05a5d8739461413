//! Checkpoints: the one owner of their layout, writing and reading.
//!
//! A run directory holds `ckpt-<step>/` folders (`model/` = the model crate's checkpoint,
//! `optimizer.safetensors`, `state.json` = position in the run, `meta.json` = vocabulary,
//! mode, thoughts and config) and `latest`, the name of the newest complete checkpoint
//! (replaced atomically). Every file is written atomically (temporary, fsync, rename).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use superpose_model::Model;

use crate::optim::AdamW;
use crate::trainer::{params_finite, RunMeta, TrainState};
use crate::TrainError;

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    superpose_fsutil::write_atomic(path, bytes).map_err(|e| TrainError::io(path, e))
}

pub use superpose_fsutil::sync_dir;

/// The newest complete checkpoint of run directory `out` (the one `latest` names), if any.
pub(crate) fn latest_checkpoint(out: &Path) -> Result<Option<PathBuf>, TrainError> {
    let latest = out.join("latest");
    if !latest.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&latest).map_err(|e| TrainError::io(&latest, e))?;
    Ok(Some(out.join(name.trim())))
}

/// A run that stops early always leaves a checkpoint at the step where it stopped (unless the
/// last save was at that step already, or the weights are not finite).
pub(crate) fn checkpoint_at_stop(
    out: &Path,
    model: &Model,
    opt: &AdamW,
    state: &TrainState,
    meta: &RunMeta,
    last: Option<PathBuf>,
) -> Result<PathBuf, TrainError> {
    let name = format!("ckpt-{:08}", state.global_step);
    match last {
        Some(p) if p.ends_with(&name) || !params_finite(model) => Ok(p),
        _ => save_checkpoint(out, model, opt, state, meta),
    }
}

/// Resolve a checkpoint argument: a run directory (follows `latest`) or a `ckpt-*` directory.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, TrainError> {
    if path.join("meta.json").exists() {
        return Ok(path.to_path_buf());
    }
    match latest_checkpoint(path)? {
        Some(d) if d.join("meta.json").exists() => Ok(d),
        _ => Err(TrainError::Checkpoint {
            path: path.display().to_string(),
            msg: "no checkpoint here (expected meta.json, or a run directory with `latest`)".into(),
        }),
    }
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.display().to_string(),
        msg: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}

pub(crate) fn json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).expect("serialisable");
    s.push('\n');
    s.into_bytes()
}

/// Save a checkpoint atomically: build `ckpt-N.tmp/`, fsync, rename to `ckpt-N/`, then point
/// `latest` at it and delete older checkpoints (the newest two are kept).
pub(crate) fn save_checkpoint(
    out: &Path,
    model: &Model,
    opt: &AdamW,
    state: &TrainState,
    meta: &RunMeta,
) -> Result<PathBuf, TrainError> {
    let name = format!("ckpt-{:08}", state.global_step);
    let tmp = out.join(format!("{name}.tmp"));
    let dst = out.join(&name);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    superpose_model::save_checkpoint(model, &tmp.join("model")).map_err(|e| {
        TrainError::Checkpoint {
            path: tmp.display().to_string(),
            msg: e.to_string(),
        }
    })?;
    opt.save(&tmp.join("optimizer.safetensors"))?;
    write_atomic(&tmp.join("state.json"), &json_bytes(state))?;
    write_atomic(&tmp.join("meta.json"), &json_bytes(meta))?;
    sync_dir(&tmp);
    if dst.exists() {
        std::fs::remove_dir_all(&dst).map_err(|e| TrainError::io(&dst, e))?;
    }
    std::fs::rename(&tmp, &dst).map_err(|e| TrainError::io(&dst, e))?;
    sync_dir(out);
    write_atomic(&out.join("latest"), name.as_bytes())?;
    // Keep the newest two checkpoints.
    let mut old: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(|e| TrainError::io(out, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ckpt-") && !n.ends_with(".tmp"))
        })
        .collect();
    old.sort();
    if old.len() > 2 {
        for p in &old[..old.len() - 2] {
            let _ = std::fs::remove_dir_all(p);
        }
    }
    Ok(dst)
}

/// A checkpoint's metadata (vocabulary, mode, thoughts, training config), from a checkpoint
/// or run directory.
pub fn read_run_meta(path: &Path) -> Result<RunMeta, TrainError> {
    let dir = resolve_checkpoint(path)?;
    read_json(&dir.join("meta.json"))
}

/// Load a model for evaluation from a checkpoint (or run) directory.
pub fn load_for_eval(path: &Path, device: &Device) -> Result<(Model, RunMeta), TrainError> {
    let dir = resolve_checkpoint(path)?;
    let meta = read_run_meta(&dir)?;
    let model = superpose_model::load_checkpoint(&dir.join("model"), device).map_err(|e| {
        TrainError::Checkpoint {
            path: dir.display().to_string(),
            msg: e.to_string(),
        }
    })?;
    let (needed, has) = (meta.meta.vocab.size(), model.config().vocab_size);
    if needed > has {
        return Err(TrainError::Checkpoint {
            path: dir.display().to_string(),
            msg: format!(
                "meta.json's vocabulary ({} node tokens, {needed} tokens) is larger than the \
                 model's ({has} tokens)",
                meta.meta.vocab.n_nodes
            ),
        });
    }
    Ok((model, meta))
}
