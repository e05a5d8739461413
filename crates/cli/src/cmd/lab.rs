//! `superpose demo` and `superpose lab ...` (owner: lab crate).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use superpose_lab::{ExperimentId, RunOptions};

#[derive(Args)]
pub struct DemoArgs {
    /// Folder to write the report into (created if missing).
    #[arg(long, default_value = "superpose-report")]
    pub out: PathBuf,
    /// Print a machine-readable JSON summary on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum LabCommand {
    /// Run one experiment (or `all`), writing DIR/EXPERIMENT/{results.json, results.csv,
    /// *.svg, README.md} and DIR/index.html.
    Run(RunArgs),
    /// List the experiments with a one-line description.
    List,
}

#[derive(Args)]
pub struct RunArgs {
    /// Experiment name: reach-steps-vs-work, reach-capacity, plan-spurious-reach,
    /// union-vs-states, trained-thoughts, or `all`.
    pub experiment: String,
    /// Output folder (created if missing).
    #[arg(long, default_value = "lab-results")]
    pub out: PathBuf,
    /// Small sizes and embedded data only (seconds instead of minutes).
    #[arg(long)]
    pub quick: bool,
    /// Print a machine-readable JSON summary on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Trained checkpoint folder for trained-thoughts (repeat for several).
    #[arg(long = "checkpoint", value_name = "DIR")]
    pub checkpoints: Vec<PathBuf>,
    /// Seed for every random choice (graphs, embeddings).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// PDDL suite for full planning runs: a folder with one folder per domain
    /// (default: the repository's data/pddl when present, else the embedded problems).
    #[arg(long, value_name = "DIR")]
    pub pddl_dir: Option<PathBuf>,
    /// Per-problem planner time limit in seconds (full runs).
    #[arg(long, default_value_t = 10.0)]
    pub time_limit: f64,
    /// Hide progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn demo(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let outcome = superpose_lab::run_demo(&a.out, !a.json)
        .with_context(|| format!("writing the demo report to {}", a.out.display()))?;
    if a.json {
        let v = superpose_lab::json_summary(&outcome.results, &a.out, &outcome.index);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", superpose_lab::terminal_summary(&outcome.results, 12));
        println!("\nReport: {}", shown(&outcome.index).display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(c: LabCommand) -> anyhow::Result<ExitCode> {
    match c {
        LabCommand::List => {
            for id in ExperimentId::ALL {
                println!("{:<22} {}", id.name(), id.title());
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Run(a) => run_lab(a),
    }
}

fn run_lab(a: RunArgs) -> anyhow::Result<ExitCode> {
    let ids: Vec<ExperimentId> = if a.experiment == "all" {
        ExperimentId::ALL.to_vec()
    } else {
        vec![ExperimentId::from_name(&a.experiment)?]
    };
    let time_limit = superpose_plan::Limits::parse_time("--time-limit", a.time_limit)?;
    let opts = RunOptions {
        quick: a.quick,
        progress: !a.no_progress && !a.json,
        seed: a.seed,
        checkpoints: a.checkpoints,
        pddl_dir: a.pddl_dir,
        time_limit,
    };
    let results = superpose_lab::run_experiments(&ids, &opts)?;
    let index = superpose_lab::report::write_report(
        &a.out,
        "superpose lab report",
        &format!(
            "superpose lab run {}{} (seed {}).",
            a.experiment,
            if a.quick { " --quick" } else { "" },
            a.seed
        ),
        &results,
    )
    .with_context(|| format!("writing results to {}", a.out.display()))?;
    if a.json {
        let v = superpose_lab::json_summary(&results, &a.out, &index);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", superpose_lab::terminal_summary(&results, 20));
        println!("\nReport: {}", shown(&index).display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The absolute path of a written file when it can be resolved (else as given).
fn shown(p: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
