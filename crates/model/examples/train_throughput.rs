//! Training throughput on the reference config only (for profiling):
//! `cargo run --release -p superpose-model --example train_throughput -- [steps]`
use superpose_model::bench::{train_tokens_per_s, BenchShapes};
use superpose_model::ModelConfig;

fn main() {
    let steps = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dev = superpose_model::default_device().expect("BURN_DEVICE names a compiled backend");
    let tps = train_tokens_per_s(
        &dev,
        &ModelConfig::reference(),
        &BenchShapes::default(),
        1,
        steps,
    );
    println!("train_tokens_per_s {tps:.1}");
}
