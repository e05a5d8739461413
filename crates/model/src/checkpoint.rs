//! Checkpoints in the Hugging Face GPT-2 layout: `model.safetensors` (tensor names and Conv1D
//! orientation as in `transformers`' `GPT2LMHeadModel`) plus `config.json` (the HF keys, and our
//! extra switches under `"superpose"`). Saves are atomic (temp file, fsync, rename).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::{json, Value};

use crate::config::{Activation, ModelConfig};
use crate::model::{Model, NamedTensor};
use crate::{Device, ModelError};

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |error| ModelError::Io {
        path: path.display().to_string(),
        error,
    }
}

fn file_err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    superpose_fsutil::write_atomic(path, bytes).map_err(io_err(path))
}

fn hf_activation(a: Activation) -> &'static str {
    match a {
        Activation::Gelu => "gelu",
        Activation::GeluTanh => "gelu_new",
        Activation::Relu => "relu",
        Activation::Threshold { .. } => "superpose_threshold",
        Activation::Identity => "linear",
    }
}

/// The `config.json` of a model: Hugging Face GPT-2 keys plus the full config under `superpose`.
pub fn config_to_json(config: &ModelConfig) -> Value {
    let eps = match config.norm {
        crate::NormKind::LayerNorm { eps, .. } => eps,
        _ => 1e-5,
    };
    json!({
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": config.vocab_size,
        "n_positions": config.n_positions,
        "n_ctx": config.n_positions,
        "n_embd": config.d_model,
        "n_layer": config.n_layer,
        "n_head": config.n_head,
        "n_inner": config.d_mlp,
        "activation_function": hf_activation(config.default_layer.activation),
        "layer_norm_epsilon": eps,
        "tie_word_embeddings": config.tie_embeddings,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "superpose": config,
    })
}

/// Reads a `config.json`: ours (with `superpose`), or a plain Hugging Face GPT-2 one.
pub fn config_from_json(text: &str, path: &Path) -> Result<ModelConfig, ModelError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        file_err(
            path,
            format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let config = if let Some(ours) = v.get("superpose") {
        serde_json::from_value::<ModelConfig>(ours.clone())
            .map_err(|e| file_err(path, format!("bad `superpose` config: {e}")))?
    } else {
        let get = |k: &str| -> Result<usize, ModelError> {
            v.get(k)
                .and_then(Value::as_u64)
                .map(|x| x as usize)
                .ok_or_else(|| file_err(path, format!("missing or non-integer key `{k}`")))
        };
        let d = get("n_embd")?;
        let mut c = ModelConfig::gpt2(crate::ModelSize {
            vocab_size: get("vocab_size")?,
            n_positions: get("n_positions")?,
            d_model: d,
            n_layer: get("n_layer")?,
            n_head: get("n_head")?,
        });
        if let Some(n) = v.get("n_inner").and_then(Value::as_u64) {
            c.d_mlp = n as usize;
        }
        if let Some(e) = v.get("layer_norm_epsilon").and_then(Value::as_f64) {
            c.norm = crate::NormKind::LayerNorm {
                affine: true,
                eps: e,
            };
        }
        if let Some(t) = v.get("tie_word_embeddings").and_then(Value::as_bool) {
            c.tie_embeddings = t;
        }
        c.default_layer.activation = match v.get("activation_function").and_then(Value::as_str) {
            None | Some("gelu_new") | Some("gelu_pytorch_tanh") => Activation::GeluTanh,
            Some("gelu") => Activation::Gelu,
            Some("relu") => Activation::Relu,
            Some(other) => {
                return Err(file_err(
                    path,
                    format!("unsupported activation_function `{other}`"),
                ))
            }
        };
        c
    };
    config
        .validate()
        .map_err(|e| file_err(path, e.to_string()))?;
    Ok(config)
}

/// Serialises named tensors to safetensors bytes (f32, little endian).
pub fn named_to_safetensors(
    tensors: &BTreeMap<String, NamedTensor>,
) -> Result<Vec<u8>, ModelError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(k, t)| {
            let b: Vec<u8> = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
            (k.clone(), t.shape.clone(), b)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(k, shape, b)| {
            TensorView::new(Dtype::F32, shape.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| ModelError::Mismatch(format!("tensor `{k}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(views, Some(meta)).map_err(|e| ModelError::Mismatch(e.to_string()))
}

/// Parses safetensors bytes into named f32 tensors (f32 and f64 files accepted).
pub fn named_from_safetensors(
    bytes: &[u8],
    path: &Path,
) -> Result<BTreeMap<String, NamedTensor>, ModelError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| file_err(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                return Err(file_err(
                    path,
                    format!("tensor `{name}` has dtype {other:?}; only F32 and F64 are supported"),
                ))
            }
        };
        out.insert(
            name,
            NamedTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

/// Saves `model.safetensors` and `config.json` into `dir` (created if missing), atomically.
pub fn save_checkpoint(model: &Model, dir: &Path) -> Result<(), ModelError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let bytes = named_to_safetensors(&model.to_named())?;
    write_atomic(&dir.join(WEIGHTS_FILE), &bytes)?;
    let cfg =
        serde_json::to_string_pretty(&config_to_json(model.config())).expect("config serialises");
    write_atomic(&dir.join(CONFIG_FILE), cfg.as_bytes())
}

/// Reads only the config of a checkpoint directory.
pub fn load_config(dir: &Path) -> Result<ModelConfig, ModelError> {
    let cpath = dir.join(CONFIG_FILE);
    let text = fs::read_to_string(&cpath).map_err(io_err(&cpath))?;
    config_from_json(&text, &cpath)
}

/// Loads a checkpoint directory saved by [`save_checkpoint`] or by `transformers`
/// (`save_pretrained(..., safe_serialization=True)` of a GPT-2 model).
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<Model, ModelError> {
    let config = load_config(dir)?;
    let wpath = dir.join(WEIGHTS_FILE);
    let bytes = fs::read(&wpath).map_err(io_err(&wpath))?;
    let named = named_from_safetensors(&bytes, &wpath)?;
    Model::from_named(&config, &named, device).map_err(|e| file_err(&wpath, e.to_string()))
}
