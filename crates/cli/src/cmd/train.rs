//! `superpose train` and `superpose eval` (owner: train crate).

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct TrainArgs {}

#[derive(Args)]
pub struct EvalArgs {}

pub fn train(_a: TrainArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose train` is not implemented yet")
}

pub fn eval(_a: EvalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose eval` is not implemented yet")
}
