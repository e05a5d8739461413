//! `superpose plan ...` (owner: plan crate).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Solve a PDDL problem (not yet implemented).
    Solve,
}

pub fn run(_c: PlanCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose plan` is not implemented yet")
}
