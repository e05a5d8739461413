//! `superpose graph ...` and `superpose bench graph` (owner: graph crate).

use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum GraphCommand {
    /// Generate reachability tasks (not yet implemented).
    Generate,
}

#[derive(Args)]
pub struct BenchGraphArgs {}

pub fn run(_c: GraphCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose graph` is not implemented yet")
}

pub fn bench(_a: BenchGraphArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose bench graph` is not implemented yet")
}
