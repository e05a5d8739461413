//! `superpose train` and `superpose eval` (owner: train crate).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use superpose_train::eval::{render_report, EvalOptions};
use superpose_train::trainer::{evaluate, train as run_training, TrainOptions};
use superpose_train::{data, TrainConfig};

#[derive(Args)]
pub struct TrainArgs {
    /// TOML run configuration (see configs/*.toml, e.g. configs/rbs-cpu.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Output directory (checkpoints, metrics.jsonl, final.json); default: `run.out` of the config.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in the output directory from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many optimizer steps in this process (overrides `run.max_steps`).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Print the final summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct EvalArgs {
    /// A checkpoint directory (`ckpt-*`) or a run directory (its latest checkpoint is used).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,
    /// ProsQA-format JSON tasks (e.g. data/prosqa/prosqa_valid_graph_4_coconut.json).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Print the report as JSON (tasks, correct, accuracy, by_hops, probes, ablations).
    #[arg(long)]
    pub json: bool,
    /// Evaluate only the first N tasks.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Sequences per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Seed of the edge and candidate order of the prompts.
    #[arg(long, default_value_t = 12345)]
    pub seed: u64,
    /// Skip the probe tables (thought · node inner products, edge attention).
    #[arg(long)]
    pub no_probes: bool,
    /// Skip the causal tests of the thoughts (zeroed, shuffled, mean, truncated, transplanted).
    #[arg(long)]
    pub no_ablations: bool,
    /// Thought slots at inference (default: the checkpoint's final stage). More than it was
    /// trained with tests whether the thought step extends to longer paths.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=256))]
    pub thoughts: Option<u16>,
}

pub fn train(a: TrainArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = TrainConfig::load(&a.config)?;
    if let Some(n) = a.max_steps {
        cfg.run.max_steps = n;
    }
    let out = a.out.clone().unwrap_or_else(|| cfg.run.out.clone());
    let opts = TrainOptions {
        out: out.clone(),
        resume: a.resume,
        progress: !a.quiet && std::io::stderr().is_terminal(),
        eval: EvalOptions::default(),
    };
    let summary = run_training(&cfg, &opts)
        .with_context(|| format!("training {} into {}", a.config.display(), out.display()))?;
    let mut text = String::new();
    if a.json {
        text = format!("{}\n", serde_json::to_string_pretty(&summary)?);
    } else {
        use std::fmt::Write as _;
        writeln!(
            text,
            "{} ({}): {} steps, {} epochs, {:.0} s, final loss {}{}",
            summary.run,
            summary.mode,
            summary.steps,
            summary.epochs,
            summary.wall_s,
            summary
                .final_loss
                .map(|l| format!("{l:.4}"))
                .unwrap_or_else(|| "-".into()),
            if summary.stopped_early {
                " (stopped early; continue with --resume)"
            } else {
                ""
            }
        )?;
        if let Some(v) = &summary.val {
            writeln!(text, "held-out generated graphs:")?;
            text.push_str(&render_report(v));
        }
        for (f, r) in &summary.files {
            writeln!(text, "{f}:")?;
            text.push_str(&render_report(r));
        }
        writeln!(text, "checkpoint: {}", summary.checkpoint)?;
    }
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing the summary")?;
    Ok(ExitCode::SUCCESS)
}

pub fn eval(a: EvalArgs) -> anyhow::Result<ExitCode> {
    let mut tasks = data::read_prosqa(&a.data)?;
    if let Some(n) = a.limit {
        tasks.truncate(n);
    }
    let opts = EvalOptions {
        batch_size: a.batch_size,
        seed: a.seed,
        probes: !a.no_probes,
        ablations: !a.no_ablations,
        thoughts: a.thoughts.map(usize::from),
        ..EvalOptions::default()
    };
    let report = evaluate(&a.checkpoint, &tasks, &opts)?;
    let text = if a.json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        render_report(&report)
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing the report")?;
    Ok(ExitCode::SUCCESS)
}
