//! `superpose`: the one binary. It only parses arguments and calls the library crates;
//! every subcommand lives in `cmd/<area>.rs`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// A workbench for reasoning over superposed (disjunctive) representations: transformers
/// whose context holds token and latent vectors, and planners that project over sets of states.
#[derive(Parser)]
#[command(name = "superpose", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run small versions of every experiment and write `superpose-report/index.html`.
    Demo(cmd::lab::DemoArgs),
    /// Graph-reachability tasks: generate, solve exactly, summarise.
    #[command(subcommand)]
    Graph(cmd::graph::GraphCommand),
    /// Graphplan and state-space planners for STRIPS PDDL.
    #[command(subcommand)]
    Plan(cmd::plan::PlanCommand),
    /// Run a checkpoint with continuous (latent) or soft thoughts and probe each thought.
    Think(cmd::model::ThinkArgs),
    /// The hand-built Theorem-1 superposition transformer (Zhu et al. 2025).
    #[command(subcommand)]
    Reach(cmd::construct::ReachCommand),
    /// Train a transformer from scratch (no-CoT, CoT, Coconut, pause) from a TOML config.
    Train(cmd::train::TrainArgs),
    /// Evaluate a trained checkpoint on a reachability data file.
    Eval(cmd::train::EvalArgs),
    /// Experiments and reports.
    #[command(subcommand)]
    Lab(cmd::lab::LabCommand),
    /// Speed benchmarks that print ratios against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(cmd::BenchCommand),
}

/// Rust ignores SIGPIPE, so a print to a closed pipe (`superpose plan ground ... | head -1`)
/// panics; with the default action the process ends quietly, as Unix tools do.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores a signal's default action before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    end_quietly_on_a_closed_pipe();
    superpose_model::keep_freed_memory();
    let cli = Cli::parse();
    // Every command runs on a rayon worker, so the model kernels' forks (also under `demo` and
    // `lab`) are local hand-offs (see `on_compute_pool`).
    let result = superpose_model::on_compute_pool(|| match cli.command {
        Command::Demo(args) => cmd::lab::demo(args),
        Command::Graph(c) => cmd::graph::run(c),
        Command::Plan(c) => cmd::plan::run(c),
        Command::Think(args) => cmd::model::think(args),
        Command::Reach(c) => cmd::construct::run(c),
        Command::Train(args) => cmd::train::train(args),
        Command::Eval(args) => cmd::train::eval(args),
        Command::Lab(c) => cmd::lab::run(c),
        Command::Bench(c) => cmd::bench(c),
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            // Exit code 2 is "bad input" everywhere (the planner documents 0/1/2/3).
            ExitCode::from(2)
        }
    }
}
