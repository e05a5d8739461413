//! `trained-thoughts`: trained checkpoints (the `train` crate) evaluated on reachability
//! tasks with every hop count from 1 to a few beyond the training range: accuracy against
//! hops, the probe tables of the continuous thoughts (Zhu et al. 2025, Tables 1 and 5), and
//! the causal tests of the thoughts (zeroed, shuffled, mean, truncated, transplanted) on tasks
//! inside the training range. Without `--checkpoint` it evaluates the checkpoints shipped in
//! `data/checkpoints/` (when the folder is there).

use std::path::{Path, PathBuf};

use serde_json::json;
use superpose_train::data::{generate_examples, GraphSpec, ReachExample};
use superpose_train::eval::{EvalOptions, EvalReport, ProbeRow};
use superpose_train::trainer::{evaluate, read_run_meta, RunMeta};

use crate::plot::{category_chart, xy_plot, Axis, CategoryChart, CategoryStyle, Series, XyPlot};
use crate::report::{ExperimentResult, Plot, Status};
use crate::table::{fmt_sig, table_row, Row, Table, TableError};
use crate::{progress_bar, ExperimentId, LabError, RunOptions};

table_row! {
    /// Accuracy of one checkpoint at one hop count (the `results` table).
    pub struct HopRow {
        checkpoint: String => ("", "checkpoint folder"),
        mode: String => ("", "training mode (nocot, cot, coconut, coconut-bfs, pause)"),
        thoughts: usize => ("thoughts", "thoughts fed at inference"),
        hops: usize => ("hops", "shortest root→target path length of the evaluation tasks"),
        in_training_range: bool => (
            "",
            "hops within the training data's min_hops..=max_hops"
        ),
        tasks: usize => ("tasks", "evaluation tasks with this hop count"),
        correct: usize => ("tasks", "answered correctly"),
        accuracy: f64 => ("fraction", "correct / tasks"),
    }
}

table_row! {
    /// One probe at one thought step of one checkpoint (the `probes` table).
    pub struct ProbeTableRow {
        checkpoint: String => ("", "checkpoint folder"),
        probe: String => (
            "",
            "thought_node_inner (Zhu et al. Table 5) or edge_attention (Table 1)"
        ),
        step: usize => ("thought", "thought step (1-based)"),
        frontier: f64 => ("", "mean over frontier nodes / edges"),
        reachable: f64 => ("", "mean over reachable, non-frontier nodes / edges"),
        not_reachable: f64 => ("", "mean over unreachable nodes / edges"),
        optimal: f64 => ("", "mean over nodes / edges on a shortest path"),
        ordered: bool => ("", "frontier > reachable > not reachable"),
    }
}

table_row! {
    /// One causal test of one checkpoint (the `causal` table).
    pub struct CausalRow {
        checkpoint: String => ("", "checkpoint folder"),
        mode: String => ("", "training mode"),
        test: String => (
            "",
            "intact, zeroed, shuffled, mean, truncated-t, transplant-edge-removed"
        ),
        thoughts: usize => ("thoughts", "thought slots fed before <eot>"),
        tasks: usize => ("tasks", "evaluation tasks (inside the training hop range)"),
        accuracy: f64 => ("fraction", "exact answers"),
        choice_accuracy: f64 => (
            "fraction",
            "two-way choice between the candidates (chance 0.5)"
        ),
    }
}

/// The columns of the `results` table.
pub const COLUMNS: &[(&str, &str, &str)] = HopRow::COLUMNS;
/// The columns of the `probes` table.
pub const PROBE_COLUMNS: &[(&str, &str, &str)] = ProbeTableRow::COLUMNS;
/// The columns of the `causal` table.
pub const CAUSAL_COLUMNS: &[(&str, &str, &str)] = CausalRow::COLUMNS;

/// Where the shipped checkpoints live: `data/checkpoints` of the source tree, or of the
/// working directory.
pub fn shipped_checkpoints() -> Vec<PathBuf> {
    let roots = [
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/checkpoints"
        )),
        PathBuf::from("data/checkpoints"),
    ];
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("meta.json").exists())
            .collect();
        if !dirs.is_empty() {
            dirs.sort();
            return dirs;
        }
    }
    Vec::new()
}

/// Reads a checkpoint's metadata (training configuration and vocabulary).
pub fn checkpoint_meta(path: &Path) -> Result<RunMeta, LabError> {
    read_run_meta(path).map_err(|e| LabError::Input(e.to_string()))
}

/// Evaluation tasks for a checkpoint: `per_hop` tasks for every hop count from `min_hop` to
/// `max_hops + extra`, generated like the training data (same family and node range).
/// When a hop count cannot be generated in that node range, graphs up to the model's
/// node-token count are allowed for it; hop counts that still fail are skipped. Tasks whose
/// prompt, thoughts and answer would not fit the model's context are left out.
pub fn eval_tasks(
    meta: &RunMeta,
    hops: std::ops::RangeInclusive<usize>,
    per_hop: usize,
    seed: u64,
) -> Vec<ReachExample> {
    let d = &meta.config.data;
    let vocab_nodes = meta.meta.vocab.n_nodes as usize;
    let max_nodes = (d.max_nodes as usize).min(vocab_nodes);
    let min_nodes = (d.min_nodes as usize).min(max_nodes);
    let eval = EvalOptions::default();
    let fits = |ex: &ReachExample| {
        meta.meta.eval_len(ex) + eval.max_new_tokens <= meta.config.model.n_positions
    };
    let spec = |max_nodes, h| GraphSpec {
        family: d.family,
        min_nodes,
        max_nodes,
        min_hops: h,
        max_hops: h,
    };
    let mut out = Vec::new();
    for h in hops {
        let s = seed.wrapping_add(1_000 * h as u64);
        let exs = generate_examples(&spec(max_nodes, h), per_hop, s)
            .or_else(|_| generate_examples(&spec(vocab_nodes, h), per_hop, s));
        if let Ok(exs) = exs {
            out.extend(exs.into_iter().filter(|e| fits(e)));
        }
    }
    out
}

fn probe_rows(t: &mut Table, ckpt: &str, probe: &str, rows: &[ProbeRow]) -> Result<(), TableError> {
    for r in rows {
        t.push_row(&ProbeTableRow {
            checkpoint: ckpt.into(),
            probe: probe.into(),
            step: r.step,
            frontier: r.frontier.mean,
            reachable: r.reachable.mean,
            not_reachable: r.not_reachable.mean,
            optimal: r.optimal.mean,
            ordered: r.ordered(),
        })?;
    }
    Ok(())
}

/// One checkpoint, measured: accuracy and probes over every hop count, causal tests inside
/// the training range.
struct Measured {
    name: String,
    meta: RunMeta,
    /// All hop counts (probes, no interventions).
    all: EvalReport,
    /// Inside the training hop range, with the causal tests.
    inside: EvalReport,
}

fn measure(ck: &Path, opts: &RunOptions, per_hop: usize) -> Result<Measured, LabError> {
    let name = ck.display().to_string();
    let meta = checkpoint_meta(ck)?;
    let (lo, hi) = (meta.config.data.min_hops, meta.config.data.max_hops);
    let tasks = eval_tasks(&meta, 1..=hi + EXTRA_HOPS, per_hop, opts.seed);
    let inside_tasks = eval_tasks(&meta, lo..=hi, per_hop, opts.seed.wrapping_add(77));
    if tasks.is_empty() || inside_tasks.is_empty() {
        return Err(LabError::Input(format!(
            "{name}: no evaluation task could be generated for its graph sizes"
        )));
    }
    let base = EvalOptions {
        seed: opts.seed,
        ..EvalOptions::default()
    };
    let run = |tasks: &[ReachExample], probes: bool, ablations: bool| {
        let o = EvalOptions {
            probes,
            ablations,
            ..base.clone()
        };
        evaluate(ck, tasks, &o).map_err(|e| LabError::Input(format!("evaluating {name}: {e}")))
    };
    Ok(Measured {
        all: run(&tasks, true, false)?,
        inside: run(&inside_tasks, false, true)?,
        name,
        meta,
    })
}

/// Hop counts beyond the training range that are evaluated.
const EXTRA_HOPS: usize = 3;

/// (hops, accuracy, tasks) sorted by hops.
fn hop_rows(rep: &EvalReport) -> Vec<(usize, f64, usize)> {
    let mut rows: Vec<(usize, f64, usize)> = rep
        .by_hops
        .iter()
        .filter_map(|(k, a)| Some((k.parse::<usize>().ok()?, a.accuracy, a.tasks)))
        .collect();
    rows.sort_by_key(|r| r.0);
    rows
}

/// (test, thoughts, accuracy, two-way accuracy), the intact run first.
fn causal_rows(rep: &EvalReport) -> Vec<(String, usize, f64, f64)> {
    let mut rows = vec![(
        "intact".to_string(),
        rep.thoughts,
        rep.accuracy,
        rep.choice_accuracy,
    )];
    rows.extend(
        rep.causal
            .iter()
            .map(|t| (t.test.clone(), t.thoughts, t.accuracy, t.choice_accuracy)),
    );
    rows
}

fn push_rows(
    m: &Measured,
    table: &mut Table,
    probes: &mut Table,
    causal: &mut Table,
) -> Result<(), TableError> {
    let (lo, hi) = (m.meta.config.data.min_hops, m.meta.config.data.max_hops);
    for (h, acc, n) in hop_rows(&m.all) {
        let a = &m.all.by_hops[&h.to_string()];
        table.push_row(&HopRow {
            checkpoint: m.name.clone(),
            mode: m.all.mode.clone(),
            thoughts: m.all.thoughts,
            hops: h,
            in_training_range: (lo..=hi).contains(&h),
            tasks: n,
            correct: a.correct,
            accuracy: acc,
        })?;
    }
    probe_rows(
        probes,
        &m.name,
        "thought_node_inner",
        &m.all.thought_node_inner,
    )?;
    probe_rows(probes, &m.name, "edge_attention", &m.all.edge_attention)?;
    for (test, thoughts, acc, choice) in causal_rows(&m.inside) {
        causal.push_row(&CausalRow {
            checkpoint: m.name.clone(),
            mode: m.inside.mode.clone(),
            test,
            thoughts,
            tasks: m.inside.tasks,
            accuracy: acc,
            choice_accuracy: choice,
        })?;
    }
    Ok(())
}

fn plots(ms: &[Measured]) -> Result<Vec<Plot>, LabError> {
    let series = ms
        .iter()
        .map(|m| {
            let (lo, hi) = (m.meta.config.data.min_hops, m.meta.config.data.max_hops);
            Series::new(
                &format!(
                    "{} ({}, trained on {lo}–{hi} hops)",
                    short(&m.name),
                    m.all.mode
                ),
                hop_rows(&m.all)
                    .iter()
                    .map(|&(h, a, _)| (h as f64, a))
                    .collect(),
                true,
            )
        })
        .collect();
    let hops = XyPlot {
        title: "Accuracy against hops".into(),
        x: Axis::linear("shortest-path length [hops]"),
        y: Axis::linear("accuracy [fraction]"),
        series,
        diagonal: false,
    };
    let mut tests: Vec<String> = Vec::new();
    for m in ms {
        for (t, ..) in causal_rows(&m.inside) {
            if !tests.contains(&t) {
                tests.push(t);
            }
        }
    }
    let causal = CategoryChart {
        title: "Causal tests of the thoughts (exact accuracy, training hop range)".into(),
        categories: tests.clone(),
        value_axis: Axis::linear("accuracy [fraction]"),
        series: ms
            .iter()
            .map(|m| {
                let rows = causal_rows(&m.inside);
                let values = tests
                    .iter()
                    .map(|t| rows.iter().find(|r| &r.0 == t).map(|r| r.2))
                    .collect();
                (format!("{} ({})", short(&m.name), m.inside.mode), values)
            })
            .collect(),
        style: CategoryStyle::Dots,
    };
    Ok(vec![
        Plot {
            file_name: "accuracy-vs-hops.svg".into(),
            caption: "Accuracy against the number of hops, one line per checkpoint (the legend gives the training range)".into(),
            svg: xy_plot(&hops)?,
        },
        Plot {
            file_name: "causal-tests.svg".into(),
            caption: "Exact accuracy inside the training hop range with the thoughts intact and under each causal test, one marker per checkpoint".into(),
            svg: category_chart(&causal)?,
        },
    ])
}

fn interpret(m: &Measured) -> (String, serde_json::Value) {
    let (lo, hi) = (m.meta.config.data.min_hops, m.meta.config.data.max_hops);
    let rows = hop_rows(&m.all);
    let mean = |f: &dyn Fn(usize) -> bool| {
        let v: Vec<(f64, usize)> = rows
            .iter()
            .filter(|r| f(r.0))
            .map(|r| (r.1 * r.2 as f64, r.2))
            .collect();
        let n: usize = v.iter().map(|x| x.1).sum();
        (n > 0).then(|| v.iter().map(|x| x.0).sum::<f64>() / n as f64)
    };
    let beyond = mean(&|h| h > hi);
    let r = &m.inside;
    let mut s = format!(
        "{} ({} mode, {} thoughts): accuracy {} (two-way {}) on {} tasks within the training range {lo}–{hi} hops",
        short(&m.name),
        r.mode,
        r.thoughts,
        fmt_sig(r.accuracy),
        fmt_sig(r.choice_accuracy),
        r.tasks
    );
    if let Some(b) = beyond {
        s.push_str(&format!("; {} beyond it (more than {hi} hops)", fmt_sig(b)));
    }
    s.push('.');
    let find = |name: &str| r.causal.iter().find(|t| t.test == name);
    if let (Some(sh), Some(z)) = (find("shuffled"), find("zeroed")) {
        let drop = r.accuracy - sh.accuracy;
        s.push_str(&format!(
            " Shuffling its thoughts across examples gives {} ({} points {}), zeroing them {}",
            fmt_sig(sh.accuracy),
            fmt_sig(100.0 * drop.abs()),
            if drop >= 0.0 { "lower" } else { "higher" },
            fmt_sig(z.accuracy)
        ));
        if let Some(t) = find("transplant-edge-removed") {
            s.push_str(&format!(
                ", thoughts from the graph with a gold-path edge removed {}",
                fmt_sig(t.accuracy)
            ));
        }
        s.push_str(if drop >= 0.2 {
            ": the answer depends on the content of the thoughts."
        } else {
            ": the answer does not need the content of its own thoughts."
        });
    }
    let ordered = m
        .all
        .thought_node_inner
        .iter()
        .filter(|p| p.ordered())
        .count();
    if !m.all.thought_node_inner.is_empty() {
        s.push_str(&format!(
            " Inner-product probe: frontier > reachable > unreachable at {} of {} thought steps.",
            ordered,
            m.all.thought_node_inner.len()
        ));
    }
    let summary = json!({
        "accuracy": r.accuracy,
        "choice_accuracy": r.choice_accuracy,
        "beyond": beyond,
        "shuffled": find("shuffled").map(|t| t.accuracy),
        "zeroed": find("zeroed").map(|t| t.accuracy),
    });
    (s, summary)
}

pub fn run(opts: &RunOptions) -> Result<ExperimentResult, LabError> {
    let checkpoints = if opts.checkpoints.is_empty() {
        shipped_checkpoints()
    } else {
        opts.checkpoints.clone()
    };
    if checkpoints.is_empty() {
        return Ok(ExperimentResult::not_available(
            ExperimentId::TrainedThoughts,
            opts.quick,
            "no checkpoint given and none shipped in data/checkpoints (train one with \
             `superpose train --config FILE --out DIR`, then pass `--checkpoint DIR` to \
             `superpose lab run trained-thoughts`)",
        ));
    }
    let per_hop = if opts.quick { 24 } else { 200 };
    let pb = progress_bar(checkpoints.len() as u64, "trained-thoughts", opts.progress);
    let mut measured = Vec::new();
    for ck in &checkpoints {
        pb.set_message(ck.display().to_string());
        measured.push(measure(ck, opts, per_hop)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut table = Table::of::<HopRow>("results");
    let mut probes = Table::of::<ProbeTableRow>("probes");
    let mut causal = Table::of::<CausalRow>("causal");
    let mut interpretation = Vec::new();
    let mut summary = serde_json::Map::new();
    for m in &measured {
        push_rows(m, &mut table, &mut probes, &mut causal)?;
        let (s, sum) = interpret(m);
        interpretation.push(s);
        summary.insert(short(&m.name), sum);
    }
    Ok(ExperimentResult {
        id: ExperimentId::TrainedThoughts,
        status: Status::Ok,
        quick: opts.quick,
        params: json!({
            "checkpoints": checkpoints.iter().map(|c| c.display().to_string()).collect::<Vec<_>>(),
            "tasks_per_hop": per_hop,
            "hops_beyond_training": EXTRA_HOPS,
            "seed": opts.seed,
        }),
        table,
        extra_tables: vec![causal, probes],
        plots: plots(&measured)?,
        interpretation,
        summary,
        elapsed_s: 0.0,
        terminal_columns: Vec::new(),
    })
}

/// The last two path components (e.g. `run/ckpt-000100`).
fn short(p: &str) -> String {
    let parts: Vec<&str> = p.trim_end_matches('/').rsplit('/').take(2).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}
