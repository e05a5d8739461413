//! Checkpoint round trip and error reporting.

use superpose_model::checkpoint::{config_from_json, load_config, WEIGHTS_FILE};
use superpose_model::*;

fn logits(model: &Model, dev: &Device) -> Vec<f32> {
    let rows = vec![vec![Slot::Token(1), Slot::Token(2), Slot::Token(3)]];
    let b = model.embed_slots(&rows, dev).unwrap();
    model
        .forward(b.into_input(false), None)
        .logits
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn save_load_round_trip_is_exact() {
    let dev = cpu_device();
    let dir = tempfile::tempdir().unwrap();
    for (i, cfg) in [
        ModelConfig::gpt2(ModelSize {
            vocab_size: 31,
            n_positions: 16,
            d_model: 8,
            n_layer: 2,
            n_head: 2,
        }),
        {
            let mut c = ModelConfig::gpt2(ModelSize {
                vocab_size: 31,
                n_positions: 16,
                d_model: 8,
                n_layer: 2,
                n_head: 2,
            });
            c.tie_embeddings = false;
            c.norm = NormKind::L2;
            c.position = PositionKind::Sinusoidal { base: 100.0 };
            c.layers = vec![
                LayerSwitches {
                    activation: Activation::Relu,
                    mlp: false,
                    mlp_residual: true,
                },
                LayerSwitches {
                    activation: Activation::Gelu,
                    mlp: true,
                    mlp_residual: false,
                },
            ];
            c
        },
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.path().join(format!("ck{i}"));
        let m = Model::new_seeded(&cfg, 9, &dev);
        save_checkpoint(&m, &path).unwrap();
        // no temp files left behind
        let names: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let back = load_checkpoint(&path, &dev).unwrap();
        assert_eq!(back.config(), &cfg);
        assert_eq!(back.to_named(), m.to_named());
        assert_eq!(logits(&back, &dev), logits(&m, &dev));
        // HF keys present
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(j["n_embd"], 8);
        assert_eq!(j["n_layer"], 2);
        assert_eq!(j["vocab_size"], 31);
    }
}

#[test]
fn plain_hf_config_is_read() {
    let text = r#"{"n_embd": 12, "n_layer": 1, "n_head": 3, "n_positions": 64, "vocab_size": 50,
                   "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}"#;
    let c = config_from_json(text, std::path::Path::new("config.json")).unwrap();
    assert_eq!((c.d_model, c.n_head, c.d_mlp), (12, 3, 48));
    assert_eq!(c.default_layer.activation, Activation::GeluTanh);
}

#[test]
fn corrupt_and_mismatched_checkpoints_are_clear_errors() {
    let dev = cpu_device();
    let dir = tempfile::tempdir().unwrap();
    let m = Model::new(
        &ModelConfig::gpt2(ModelSize {
            vocab_size: 31,
            n_positions: 16,
            d_model: 8,
            n_layer: 2,
            n_head: 2,
        }),
        &dev,
    );
    save_checkpoint(&m, dir.path()).unwrap();
    // malformed config JSON: names file, line and column
    let cpath = dir.path().join("config.json");
    let good = std::fs::read_to_string(&cpath).unwrap();
    std::fs::write(&cpath, "{\n  \"n_embd\": ,\n}").unwrap();
    let e = load_checkpoint(dir.path(), &dev).unwrap_err().to_string();
    assert!(e.contains("config.json") && e.contains("line 2"), "{e}");
    // config that disagrees with the weights (n_layer 3): names the missing tensor
    let mut c: serde_json::Value = serde_json::from_str(&good).unwrap();
    c["superpose"]["n_layer"] = 3.into();
    std::fs::write(&cpath, c.to_string()).unwrap();
    let e = load_checkpoint(dir.path(), &dev).unwrap_err().to_string();
    assert!(e.contains("missing tensor `h.2."), "{e}");
    // an absurd n_layer (a fuzz case that once took 24 GB listing the expected tensors):
    // refused before anything is allocated for it
    c["superpose"]["n_layer"] = 1_000_000_000_000u64.into();
    std::fs::write(&cpath, c.to_string()).unwrap();
    let e = load_checkpoint(dir.path(), &dev).unwrap_err().to_string();
    assert!(
        e.contains("n_layer 1000000000000") && e.contains("tensors"),
        "{e}"
    );
    std::fs::write(&cpath, &good).unwrap();
    assert_eq!(load_config(dir.path()).unwrap().n_layer, 2);
    // truncated weights file
    let wpath = dir.path().join(WEIGHTS_FILE);
    let bytes = std::fs::read(&wpath).unwrap();
    std::fs::write(&wpath, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_checkpoint(dir.path(), &dev).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("not a valid safetensors"),
        "{e}"
    );
    // missing directory
    let e = load_checkpoint(&dir.path().join("nope"), &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
}
