//! `superpose demo` and `superpose lab ...` (owner: lab crate).

use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct DemoArgs {}

#[derive(Subcommand)]
pub enum LabCommand {
    /// Run an experiment (not yet implemented).
    Run,
}

pub fn demo(_a: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose demo` is not implemented yet")
}

pub fn run(_c: LabCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose lab` is not implemented yet")
}
