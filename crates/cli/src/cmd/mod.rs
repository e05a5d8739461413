//! One module per area; each owns its argument structs and calls its library crate.

use std::process::ExitCode;

use clap::Subcommand;

pub mod construct;
pub mod graph;
pub mod lab;
pub mod model;
pub mod plan;
pub mod train;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Transformer runtime throughput (training, Coconut step, latent generation).
    Model(model::BenchModelArgs),
    /// Generating and solving ProsQA-size reachability tasks.
    Graph(graph::BenchGraphArgs),
}

pub fn bench(c: BenchCommand) -> anyhow::Result<ExitCode> {
    match c {
        BenchCommand::Model(a) => model::bench(a),
        BenchCommand::Graph(a) => graph::bench(a),
    }
}
