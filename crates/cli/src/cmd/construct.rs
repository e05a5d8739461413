//! `superpose reach ...` (owner: construct crate).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ReachCommand {
    /// Run the hand-built construction (not yet implemented).
    Construct,
}

pub fn run(_c: ReachCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose reach` is not implemented yet")
}
