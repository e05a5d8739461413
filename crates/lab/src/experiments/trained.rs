//! `trained-thoughts`: trained checkpoints (the `train` crate) evaluated on reachability
//! tasks with every hop count from 1 to a few beyond the training range: accuracy against
//! hops, and the probe tables of the continuous thoughts (Zhu et al. 2025, Tables 1 and 5).

use std::path::Path;

use serde_json::json;
use superpose_train::data::{generate_examples, ReachExample};
use superpose_train::eval::{EvalOptions, EvalReport, ProbeRow};
use superpose_train::trainer::{evaluate, resolve_checkpoint, RunMeta};

use crate::plot::{xy_plot, Axis, Series, XyPlot};
use crate::report::{ExperimentResult, Plot, Status};
use crate::table::{fmt_sig, Table};
use crate::{progress_bar, ExperimentId, LabError, RunOptions};

pub const COLUMNS: &[(&str, &str, &str)] = &[
    ("checkpoint", "", "checkpoint folder"),
    ("mode", "", "training mode (no-cot, cot, coconut, pause)"),
    ("thoughts", "thoughts", "thoughts fed at inference"),
    (
        "hops",
        "hops",
        "shortest root→target path length of the evaluation tasks",
    ),
    (
        "in_training_range",
        "",
        "hops within the training data's min_hops..=max_hops",
    ),
    ("tasks", "tasks", "evaluation tasks with this hop count"),
    ("correct", "tasks", "answered correctly"),
    ("accuracy", "fraction", "correct / tasks"),
];

pub const PROBE_COLUMNS: &[(&str, &str, &str)] = &[
    ("checkpoint", "", "checkpoint folder"),
    (
        "probe",
        "",
        "thought_node_inner (Zhu et al. Table 5) or edge_attention (Table 1)",
    ),
    ("step", "thought", "thought step (1-based)"),
    ("frontier", "", "mean over frontier nodes / edges"),
    (
        "reachable",
        "",
        "mean over reachable, non-frontier nodes / edges",
    ),
    ("not_reachable", "", "mean over unreachable nodes / edges"),
    ("optimal", "", "mean over nodes / edges on a shortest path"),
    ("ordered", "", "frontier > reachable > not reachable"),
];

/// Reads a checkpoint's metadata (training configuration and vocabulary).
pub fn checkpoint_meta(path: &Path) -> Result<RunMeta, LabError> {
    let dir = resolve_checkpoint(path).map_err(|e| LabError::Input(e.to_string()))?;
    let file = dir.join("meta.json");
    let text = std::fs::read_to_string(&file).map_err(|e| LabError::io(&file, e))?;
    serde_json::from_str(&text).map_err(|e| {
        LabError::Input(format!(
            "{}:{}:{}: {e}",
            file.display(),
            e.line(),
            e.column()
        ))
    })
}

/// Evaluation tasks for a checkpoint: `per_hop` tasks for every hop count from 1 to
/// `max_hops + extra`, generated like the training data (ProsQA family, same node range).
/// When a hop count cannot be generated in that node range, graphs up to the model's
/// node-token count are allowed for it; hop counts that still fail are skipped. Tasks whose
/// prompt, thoughts and answer would not fit the model's context are left out.
pub fn eval_tasks(meta: &RunMeta, per_hop: usize, extra: usize, seed: u64) -> Vec<ReachExample> {
    let d = &meta.config.data;
    let vocab_nodes = meta.meta.vocab.n_nodes as usize;
    let max_nodes = (d.max_nodes as usize).min(vocab_nodes);
    let min_nodes = (d.min_nodes as usize).min(max_nodes);
    // `<eos>`, 3 tokens per edge, `[Q] c1 c2 [R] root <bot>`, thoughts, `<eot>`, answer
    let eval = EvalOptions::default();
    let fits = |ex: &ReachExample| {
        7 + 3 * ex.edges.len() + meta.meta.thoughts + 1 + eval.max_new_tokens
            <= meta.config.model.n_positions
    };
    let mut out = Vec::new();
    for h in 1..=d.max_hops + extra {
        let s = seed.wrapping_add(1_000 * h as u64);
        let exs = generate_examples(per_hop, s, min_nodes, max_nodes, h, h)
            .or_else(|_| generate_examples(per_hop, s, min_nodes, vocab_nodes, h, h));
        if let Ok(exs) = exs {
            out.extend(exs.into_iter().filter(|e| fits(e)));
        }
    }
    out
}

fn probe_rows(t: &mut Table, ckpt: &str, probe: &str, rows: &[ProbeRow]) {
    for r in rows {
        t.push(vec![
            json!(ckpt),
            json!(probe),
            json!(r.step),
            json!(r.frontier.mean),
            json!(r.reachable.mean),
            json!(r.not_reachable.mean),
            json!(r.optimal.mean),
            json!(r.ordered()),
        ]);
    }
}

pub fn run(opts: &RunOptions) -> Result<ExperimentResult, LabError> {
    if opts.checkpoints.is_empty() {
        return Ok(ExperimentResult::not_available(
            ExperimentId::TrainedThoughts,
            opts.quick,
            "no checkpoint given (train one with `superpose train --config FILE --out DIR`, then pass \
             `--checkpoint DIR` to `superpose lab run trained-thoughts`)",
        ));
    }
    let per_hop = if opts.quick { 8 } else { 100 };
    let extra = 3;
    let mut table = Table::new("results", COLUMNS);
    let mut probes = Table::new("probes", PROBE_COLUMNS);
    let mut series = Vec::new();
    let mut out = Vec::new();
    let mut sum = serde_json::Map::new();
    let pb = progress_bar(
        opts.checkpoints.len() as u64,
        "trained-thoughts",
        opts.progress,
    );
    for ck in &opts.checkpoints {
        let name = ck.display().to_string();
        pb.set_message(name.clone());
        let meta = checkpoint_meta(ck)?;
        let tasks = eval_tasks(&meta, per_hop, extra, opts.seed);
        if tasks.is_empty() {
            return Err(LabError::Input(format!(
                "{name}: no evaluation task could be generated for its graph sizes"
            )));
        }
        let eval_opts = EvalOptions {
            seed: opts.seed,
            probes: true,
            ablations: false,
            ..EvalOptions::default()
        };
        let rep: EvalReport = evaluate(ck, &tasks, &eval_opts)
            .map_err(|e| LabError::Input(format!("evaluating {name}: {e}")))?;
        let (lo, hi) = (meta.config.data.min_hops, meta.config.data.max_hops);
        let mut hop_rows: Vec<(usize, f64, usize)> = rep
            .by_hops
            .iter()
            .filter_map(|(k, a)| Some((k.parse::<usize>().ok()?, a.accuracy, a.tasks)))
            .collect();
        hop_rows.sort_by_key(|r| r.0);
        for &(h, acc, n) in &hop_rows {
            let a = &rep.by_hops[&h.to_string()];
            table.push(vec![
                json!(name),
                json!(rep.mode),
                json!(rep.thoughts),
                json!(h),
                json!((lo..=hi).contains(&h)),
                json!(n),
                json!(a.correct),
                json!(acc),
            ]);
        }
        probe_rows(
            &mut probes,
            &name,
            "thought_node_inner",
            &rep.thought_node_inner,
        );
        probe_rows(&mut probes, &name, "edge_attention", &rep.edge_attention);
        series.push(Series::new(
            &format!("{} ({}, trained on {lo}–{hi} hops)", short(&name), rep.mode),
            hop_rows.iter().map(|&(h, a, _)| (h as f64, a)).collect(),
            true,
        ));
        // interpretation per checkpoint
        let mean = |f: &dyn Fn(usize) -> bool| {
            let v: Vec<(f64, usize)> = hop_rows
                .iter()
                .filter(|r| f(r.0))
                .map(|r| (r.1 * r.2 as f64, r.2))
                .collect();
            let n: usize = v.iter().map(|x| x.1).sum();
            (n > 0).then(|| v.iter().map(|x| x.0).sum::<f64>() / n as f64)
        };
        let inside = mean(&|h| (lo..=hi).contains(&h));
        let beyond = mean(&|h| h > hi);
        let mut s = format!(
            "{} ({} mode, {} thoughts): overall accuracy {} on {} tasks",
            short(&name),
            rep.mode,
            rep.thoughts,
            fmt_sig(rep.accuracy),
            rep.tasks
        );
        if let Some(a) = inside {
            s.push_str(&format!(
                "; {} within the training range {lo}–{hi} hops",
                fmt_sig(a)
            ));
        }
        if let Some(b) = beyond {
            s.push_str(&format!("; {} beyond it (more than {hi} hops)", fmt_sig(b)));
        }
        s.push('.');
        let ordered = rep
            .thought_node_inner
            .iter()
            .filter(|r| r.ordered())
            .count();
        if !rep.thought_node_inner.is_empty() {
            s.push_str(&format!(
                " Inner-product probe: frontier > reachable > unreachable at {} of {} thought steps.",
                ordered,
                rep.thought_node_inner.len()
            ));
        }
        out.push(s);
        sum.insert(
            short(&name),
            json!({"accuracy": rep.accuracy, "inside": inside, "beyond": beyond}),
        );
        pb.inc(1);
    }
    pb.finish_and_clear();
    let plot = XyPlot {
        title: "Accuracy against hops".into(),
        x: Axis::linear("shortest-path length [hops]"),
        y: Axis::linear("accuracy [fraction]"),
        series,
        diagonal: false,
    };
    Ok(ExperimentResult {
        id: ExperimentId::TrainedThoughts,
        status: Status::Ok,
        quick: opts.quick,
        params: json!({
            "checkpoints": opts.checkpoints.iter().map(|c| c.display().to_string()).collect::<Vec<_>>(),
            "tasks_per_hop": per_hop,
            "hops_beyond_training": extra,
            "seed": opts.seed,
        }),
        table,
        extra_tables: vec![probes],
        plots: vec![Plot {
            file_name: "accuracy-vs-hops.svg".into(),
            caption: "Accuracy against the number of hops, one line per checkpoint (the legend gives the training range)".into(),
            svg: xy_plot(&plot)?,
        }],
        interpretation: out,
        summary: sum,
        elapsed_s: 0.0,
        terminal_columns: Vec::new(),
    })
}

/// The last two path components (e.g. `run/ckpt-000100`).
fn short(p: &str) -> String {
    let parts: Vec<&str> = p.trim_end_matches('/').rsplit('/').take(2).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}
