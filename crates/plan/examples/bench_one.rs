//! One problem of a suite, one CSV row (the columns of `superpose plan bench`), for runners that
//! give each problem its own process and CPU-time limit (`bench/cpu_suite.py`).
//!
//! ```text
//! cargo run -p superpose-plan --release --example bench_one -- DOMAIN PROBLEM ALGO [WALL_S]
//! ```

use std::path::Path;

use superpose_plan::bench::run_problem;
use superpose_plan::{parse_domain, Algo, Limits};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: bench_one DOMAIN PROBLEM ALGO [WALL_S]");
        return std::process::ExitCode::from(2);
    }
    let Some(algo) = Algo::ALL.into_iter().find(|a| a.name() == args[2]) else {
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
        &Limits::with_time(wall),
    );
    println!("{}", r.to_csv_line());
    std::process::ExitCode::SUCCESS
}
