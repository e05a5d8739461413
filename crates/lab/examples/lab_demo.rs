//! Runs the demo (or one experiment) without the CLI, for development:
//! `cargo run -p superpose-lab --release --example lab_demo -- [EXPERIMENT] [--full] [OUT]`.

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--full");
    let rest: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let out = PathBuf::from(rest.get(1).map_or("superpose-report", |s| s.as_str()));
    let results = match rest.first().map(|s| s.as_str()) {
        None | Some("all") => {
            let opts = superpose_lab::RunOptions {
                quick: !full,
                ..Default::default()
            };
            superpose_lab::run_experiments(&superpose_lab::ExperimentId::ALL, &opts)
        }
        Some(name) => {
            let id = superpose_lab::ExperimentId::from_name(name).expect("experiment name");
            let opts = superpose_lab::RunOptions {
                quick: !full,
                ..Default::default()
            };
            superpose_lab::run_experiments(&[id], &opts)
        }
    }
    .expect("run");
    let index = superpose_lab::report::write_report(&out, "lab_demo", "development run", &results)
        .expect("write");
    print!("{}", superpose_lab::terminal_summary(&results, 12));
    println!("\nReport: {}", index.display());
}
