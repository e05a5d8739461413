//! One benchmark figure alone, for profiling and A/B timing: prints each timed step's
//! milliseconds, then their median and minimum.
//! `cargo run --release -p superpose-model --example train_throughput -- [steps] [reference|recipe] [train|coconut|gen32]`
use superpose_model::bench::{
    coconut_step_times, latent_generation_times, train_step_times, BenchSetup, ShapePreset,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let steps = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let preset = match args.get(2).map(String::as_str) {
        Some("recipe") => ShapePreset::Recipe,
        _ => ShapePreset::Reference,
    };
    let setup = BenchSetup::preset(preset);
    let config = setup.config();
    superpose_model::keep_freed_memory(); // as the binary does
    let dev = superpose_model::default_device().expect("BURN_DEVICE names a compiled backend");
    let mut ms: Vec<f64> =
        superpose_model::on_compute_pool(|| match args.get(3).map(String::as_str) {
            Some("coconut") => {
                coconut_step_times(&dev, &config, &setup.shapes, 1, steps, &mut |_| {})
            }
            Some("gen32") => {
                latent_generation_times(&dev, &config, &setup.shapes, 32, steps, &mut |_| {})
            }
            _ => train_step_times(&dev, &config, &setup.shapes, 1, steps, &mut |_| {}),
        })
        .into_iter()
        .map(|s| 1000.0 * s)
        .collect();
    let all: Vec<String> = ms.iter().map(|m| format!("{m:.1}")).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "median_ms {:.1} min_ms {:.1} steps {}",
        ms[ms.len() / 2],
        ms[0],
        all.join(" ")
    );
}
