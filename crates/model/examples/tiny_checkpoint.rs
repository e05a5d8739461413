//! Writes a small random checkpoint (with a vocab.json) to try `superpose think` on:
//! `cargo run -p superpose-model --example tiny_checkpoint -- /tmp/tiny`
use superpose_model::{cpu_device, save_checkpoint, Model, ModelConfig, ModelSize};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tiny-checkpoint".into());
    let mut vocab: Vec<String> = (0..28).map(|i| format!("w{i}")).collect();
    vocab.extend(["<bot>", "<eot>", "<eos>", "<pad>"].map(String::from));
    let config = ModelConfig::gpt2(ModelSize {
        vocab_size: vocab.len(),
        n_positions: 64,
        d_model: 32,
        n_layer: 2,
        n_head: 4,
    });
    let model = Model::new_seeded(&config, 1, &cpu_device());
    let dir = std::path::Path::new(&dir);
    save_checkpoint(&model, dir)?;
    std::fs::write(dir.join("vocab.json"), serde_json::to_string(&vocab)?)?;
    println!("wrote {}", dir.display());
    Ok(())
}
