//! One problem of a suite, one CSV row (the columns of `superpose plan bench`), for runners that
//! give each problem its own process and CPU-time limit (`bench/cpu_suite.py`).
//!
//! ```text
//! cargo run -p superpose-plan --release --example bench_one -- DOMAIN PROBLEM ALGO [WALL_S]
//! ```
//!
//! `ALGO` is an `--algo` name, or one of graphplan-sat's ablation baselines
//! (docs/planning-sat.md): `graphplan-sat-direct`, a variable per ground action (no split
//! components); `graphplan-sat-forward`, the encoding grown at the goals' end only (not
//! double-ended).

use std::path::Path;

use superpose_plan::bench::run_problem;
use superpose_plan::sat::{SatActions, SatGrowth};
use superpose_plan::{parse_domain, Algo, Limits};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: bench_one DOMAIN PROBLEM ALGO [WALL_S]");
        return std::process::ExitCode::from(2);
    }
    let (name, sat_actions, sat_growth) = match args[2].as_str() {
        "graphplan-sat-direct" => ("graphplan-sat", SatActions::Direct, SatGrowth::default()),
        "graphplan-sat-forward" => ("graphplan-sat", SatActions::Split, SatGrowth::Forward),
        name => (name, SatActions::Split, SatGrowth::default()),
    };
    let Some(algo) = Algo::ALL.into_iter().find(|a| a.name() == name) else {
        eprintln!("unknown algorithm {}", args[2]);
        return std::process::ExitCode::from(2);
    };
    let wall = args
        .get(3)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(300.0);
    let domain_path = Path::new(&args[0]);
    let folder = domain_path
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let domain = match parse_domain(domain_path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let r = run_problem(
        &domain,
        &folder,
        Path::new(&args[1]),
        algo,
        &Limits {
            sat_actions,
            sat_growth,
            ..Limits::with_time(wall)
        },
    );
    // The row names the ablation it ran.
    let line = r.to_csv_line();
    if name != args[2] {
        println!(
            "{}",
            line.replacen(",graphplan-sat,", &format!(",{},", args[2]), 1)
        );
    } else {
        println!("{line}");
    }
    std::process::ExitCode::SUCCESS
}
