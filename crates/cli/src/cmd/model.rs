//! `superpose think` and `superpose bench model` (owner: model crate).

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct ThinkArgs {}

#[derive(Args)]
pub struct BenchModelArgs {}

pub fn think(_a: ThinkArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose think` is not implemented yet")
}

pub fn bench(_a: BenchModelArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`superpose bench model` is not implemented yet")
}
