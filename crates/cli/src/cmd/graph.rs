//! `superpose graph ...` and `superpose bench graph` (owner: graph crate).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use superpose_graph::generate::{
    generate, generate_with_progress, Family, HopRange, ProsqaParams, TwinParams, FAMILY_NAMES,
};
use superpose_graph::prosqa::{read_tasks, write_tasks};
use superpose_graph::solve::{solve_task, solve_task_with, Solver};
use superpose_graph::stats::table2_stats;
use superpose_graph::ReachTask;

#[derive(Subcommand)]
pub enum GraphCommand {
    /// Generate reachability tasks and write them as ProsQA (Coconut) records.
    Generate(Box<GenerateArgs>),
    /// Answer every task of a ProsQA file exactly and check the labels.
    Solve(SolveArgs),
    /// Print the Table-2 statistics (Coconut) of a ProsQA file.
    Stats(StatsArgs),
    /// Score rules that never read the root (degrees, ancestor counts, distances from
    /// in-degree-0 nodes, node ids, question order) and root-aware bounded searches on a
    /// ProsQA file: a rule far from 50% is a shortcut a model can learn instead of reachability.
    Audit(AuditArgs),
}

#[derive(Args)]
pub struct AuditArgs {
    /// A ProsQA file (Coconut or symbolic records).
    file: PathBuf,
    /// Verdict tolerance: shortcut-free when every root-agnostic rule is within 50% ± this.
    #[arg(long, default_value_t = superpose_graph::audit::DEFAULT_BAND)]
    band: f64,
    /// Print one JSON object (the report, with `best_root_agnostic`) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Task family: prosqa, chain, layered, erdos-renyi, grid, near-miss, twin (mirror-image
    /// trees of the root and a decoy root: no root-agnostic shortcut).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(FAMILY_NAMES))]
    family: String,
    /// Number of tasks to write.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Random seed (ChaCha8); the same seed and flags give the same file.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep only tasks whose shortest answer path has A..=B hops, e.g. `3-4` (or `5`);
    /// twin: the target's depth is drawn uniformly from A..=B [3-4].
    #[arg(long)]
    hops: Option<HopRange>,
    /// Output file (a JSON array of Coconut records).
    #[arg(long)]
    out: PathBuf,
    /// Omit `neighbor_k` (write plain Coconut records instead of the symbolic form).
    #[arg(long)]
    no_neighbor_k: bool,
    /// chain, erdos-renyi, near-miss: number of nodes [defaults: chain 8, others 23].
    #[arg(long)]
    n: Option<usize>,
    /// erdos-renyi: edge probability [0.07]; layered: edge probability between layers [0.4];
    /// near-miss: probability of each extra edge [0.05].
    #[arg(long)]
    p: Option<f64>,
    /// layered: nodes per layer [4].
    #[arg(long)]
    width: Option<usize>,
    /// layered: number of layers [5].
    #[arg(long)]
    depth: Option<usize>,
    /// grid: rows [4].
    #[arg(long)]
    rows: Option<usize>,
    /// grid: columns [5].
    #[arg(long)]
    cols: Option<usize>,
    /// near-miss: length of the two chains from the root [4].
    #[arg(long)]
    chain_len: Option<usize>,
    /// prosqa: fewest nodes Algorithm 1 adds (before isolated nodes are dropped) [26].
    #[arg(long)]
    min_nodes: Option<usize>,
    /// prosqa: most nodes Algorithm 1 adds [26]; twin: most nodes in a graph, both sides
    /// together, so node ids stay below it [30].
    #[arg(long)]
    max_nodes: Option<usize>,
    /// prosqa: mean of the Poisson number of parents [1.5].
    #[arg(long)]
    mean_parents: Option<f64>,
    /// prosqa: probability of parents from one root's side only, per side [0.35].
    #[arg(long)]
    p_exclusive: Option<f64>,
    /// prosqa: parent weight is depth * this + 1 [1.5].
    #[arg(long)]
    depth_weight: Option<f64>,
    /// prosqa: reject questions answered in fewer hops [3].
    #[arg(long)]
    min_hops: Option<usize>,
    /// prosqa: keep isolated nodes (the released data has none).
    #[arg(long)]
    keep_isolated: bool,
    /// twin: fewest nodes drawn per layer of each side [2].
    #[arg(long)]
    min_width: Option<usize>,
    /// twin: most nodes drawn per layer of each side [3] (layers are thinned to fit
    /// --max-nodes).
    #[arg(long)]
    max_width: Option<usize>,
    /// twin: probability that a node has two parents instead of one [0.5].
    #[arg(long)]
    p_two_parents: Option<f64>,
    /// twin: probability of each eligible mirrored pair of cross edges between the sides [0.15].
    #[arg(long)]
    p_cross: Option<f64>,
}

#[derive(Args)]
pub struct SolveArgs {
    /// A ProsQA file (Coconut or symbolic records).
    file: PathBuf,
    /// Solver: bfs, reach-sets (per-hop sets R_k) or matrix-power (log-depth closure).
    #[arg(long, default_value = "bfs")]
    solver: Solver,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StatsArgs {
    /// A ProsQA file (Coconut or symbolic records).
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct BenchGraphArgs {
    /// Number of ProsQA-size tasks to generate and solve.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(c: GraphCommand) -> anyhow::Result<ExitCode> {
    match c {
        GraphCommand::Generate(a) => generate_cmd(a),
        GraphCommand::Solve(a) => solve_cmd(a),
        GraphCommand::Stats(a) => stats_cmd(a),
        GraphCommand::Audit(a) => audit_cmd(a),
    }
}

fn family_from_args(a: &GenerateArgs) -> anyhow::Result<Family> {
    let mut family = Family::with_defaults(&a.family)
        .with_context(|| format!("unknown family `{}`", a.family))?;
    let used = |name: &str, set: bool, allowed: &[&str]| -> anyhow::Result<()> {
        if set && !allowed.contains(&a.family.as_str()) {
            anyhow::bail!(
                "--{name} does not apply to family `{}` (only {})",
                a.family,
                allowed.join(", ")
            );
        }
        Ok(())
    };
    used("n", a.n.is_some(), &["chain", "erdos-renyi", "near-miss"])?;
    used("p", a.p.is_some(), &["erdos-renyi", "layered", "near-miss"])?;
    used("width", a.width.is_some(), &["layered"])?;
    used("depth", a.depth.is_some(), &["layered"])?;
    used("rows", a.rows.is_some(), &["grid"])?;
    used("cols", a.cols.is_some(), &["grid"])?;
    used("chain-len", a.chain_len.is_some(), &["near-miss"])?;
    used("max-nodes", a.max_nodes.is_some(), &["prosqa", "twin"])?;
    let twin_flag = a.min_width.is_some()
        || a.max_width.is_some()
        || a.p_two_parents.is_some()
        || a.p_cross.is_some();
    used(
        "min-width/--max-width/--p-two-parents/--p-cross",
        twin_flag,
        &["twin"],
    )?;
    let prosqa_flag = a.min_nodes.is_some()
        || a.mean_parents.is_some()
        || a.p_exclusive.is_some()
        || a.depth_weight.is_some()
        || a.min_hops.is_some()
        || a.keep_isolated;
    used(
        "min-nodes/--mean-parents/--p-exclusive/...",
        prosqa_flag,
        &["prosqa"],
    )?;
    match &mut family {
        Family::Prosqa(p) => {
            let d = ProsqaParams::default();
            *p = ProsqaParams {
                min_nodes: a.min_nodes.unwrap_or(d.min_nodes),
                max_nodes: a
                    .max_nodes
                    .unwrap_or(d.max_nodes.max(a.min_nodes.unwrap_or(0))),
                mean_parents: a.mean_parents.unwrap_or(d.mean_parents),
                p_exclusive: a.p_exclusive.unwrap_or(d.p_exclusive),
                depth_weight: a.depth_weight.unwrap_or(d.depth_weight),
                min_hops: a.min_hops.unwrap_or(d.min_hops),
                drop_isolated: !a.keep_isolated,
            };
        }
        Family::Chain { n } => *n = a.n.unwrap_or(*n),
        Family::Layered { width, depth, p } => {
            *width = a.width.unwrap_or(*width);
            *depth = a.depth.unwrap_or(*depth);
            *p = a.p.unwrap_or(*p);
        }
        Family::ErdosRenyi { n, p } => {
            *n = a.n.unwrap_or(*n);
            *p = a.p.unwrap_or(*p);
        }
        Family::Grid { rows, cols } => {
            *rows = a.rows.unwrap_or(*rows);
            *cols = a.cols.unwrap_or(*cols);
        }
        Family::NearMiss { n, hops, p } => {
            *n = a.n.unwrap_or(*n);
            *hops = a.chain_len.unwrap_or(*hops);
            *p = a.p.unwrap_or(*p);
        }
        Family::Twin(p) => {
            let d = TwinParams::default();
            *p = TwinParams {
                max_nodes: a.max_nodes.unwrap_or(d.max_nodes),
                min_width: a.min_width.unwrap_or(d.min_width),
                max_width: a
                    .max_width
                    .unwrap_or(d.max_width.max(a.min_width.unwrap_or(0))),
                p_two_parents: a.p_two_parents.unwrap_or(d.p_two_parents),
                p_cross: a.p_cross.unwrap_or(d.p_cross),
                ..d
            };
        }
    }
    Ok(family)
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed_precise}]")
            .expect("valid template"),
    );
    bar.set_message(what.to_string());
    bar
}

fn generate_cmd(a: Box<GenerateArgs>) -> anyhow::Result<ExitCode> {
    let family = family_from_args(&a)?;
    let bar = progress_bar(a.count as u64, "generating");
    let mut tasks = generate_with_progress(&family, a.count, a.seed, a.hops, |k| {
        if k % 256 == 0 {
            bar.set_position(k as u64);
        }
    })?;
    bar.finish_and_clear();
    if a.no_neighbor_k {
        for t in &mut tasks {
            t.neighbor_k = None;
        }
    }
    write_tasks(&a.out, &tasks)?;
    let s = table2_stats(&tasks);
    eprintln!(
        "wrote {} {} tasks to {} (mean {:.1} nodes, {:.1} edges, {:.2} hops)",
        tasks.len(),
        family.name(),
        a.out.display(),
        s.mean_nodes,
        s.mean_edges,
        s.mean_shortest_path_len
    );
    Ok(ExitCode::SUCCESS)
}

fn solver_name(s: Solver) -> &'static str {
    match s {
        Solver::Bfs => "bfs",
        Solver::ReachSets => "reach-sets",
        Solver::MatrixPower => "matrix-power",
    }
}

fn solve_cmd(a: SolveArgs) -> anyhow::Result<ExitCode> {
    let tasks = read_tasks(&a.file)?;
    let start = Instant::now();
    let bar = progress_bar(tasks.len() as u64, "solving");
    let (mut correct, mut ambiguous, mut ops, mut hops) = (0usize, 0usize, 0u64, 0usize);
    let mut wrong = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let ans = solve_task_with(t, a.solver);
        ops += ans.ops;
        if ans.correct {
            correct += 1;
            hops += ans.hops.unwrap_or(0);
        } else {
            if ans.answer.is_none() {
                ambiguous += 1;
            }
            wrong.push(i);
        }
        if i % 1024 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let n = tasks.len();
    let accuracy = if n == 0 {
        0.0
    } else {
        correct as f64 / n as f64
    };
    if a.json {
        let out = json!({
            "file": a.file.display().to_string(),
            "solver": solver_name(a.solver),
            "tasks": n,
            "correct": correct,
            "accuracy": accuracy,
            "ambiguous": ambiguous,
            "mislabelled_records": wrong.iter().take(100).collect::<Vec<_>>(),
            "mean_hops": if correct == 0 { 0.0 } else { hops as f64 / correct as f64 },
            "ops": ops,
            "seconds": seconds,
        });
        println!("{out}");
    } else {
        println!("file:     {}", a.file.display());
        println!("solver:   {}", solver_name(a.solver));
        println!("tasks:    {n}");
        println!(
            "correct:  {correct} ({:.2}%): the labelled target is the one reachable candidate",
            100.0 * accuracy
        );
        if !wrong.is_empty() {
            println!(
                "wrong:    {} ({ambiguous} with both or neither candidate reachable); first records: {:?}",
                wrong.len(),
                &wrong[..wrong.len().min(10)]
            );
        }
        println!(
            "ops:      {ops} ({:.1} per task)",
            ops as f64 / n.max(1) as f64
        );
        println!("time:     {:.3} s", seconds);
    }
    Ok(ExitCode::SUCCESS)
}

fn stats_cmd(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let tasks = read_tasks(&a.file)?;
    let s = table2_stats(&tasks);
    let with_nk = tasks.iter().filter(|t| t.neighbor_k.is_some()).count();
    if a.json {
        let mut v = serde_json::to_value(&s)?;
        v["file"] = json!(a.file.display().to_string());
        v["with_neighbor_k"] = json!(with_nk);
        println!("{v}");
    } else {
        println!("file:                       {}", a.file.display());
        println!(
            "tasks:                      {} ({with_nk} with neighbor_k)",
            s.tasks
        );
        println!(
            "mean nodes:                 {:.2} (min {}, max {})",
            s.mean_nodes, s.min_nodes, s.max_nodes
        );
        println!("mean edges:                 {:.2}", s.mean_edges);
        println!(
            "mean shortest-path length:  {:.2}",
            s.mean_shortest_path_len
        );
        println!(
            "mean number of shortest paths: {:.2}",
            s.mean_num_shortest_paths
        );
        let hist: Vec<String> = s
            .hops_histogram
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(k, c)| format!("{k}: {c}"))
            .collect();
        println!("hops histogram:             {}", hist.join(", "));
        println!(
            "(Coconut, Table 2, ProsQA: 23.0 nodes, 36.0 edges, 3.8 hops, 1.6 shortest paths)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_cmd(a: AuditArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=0.5).contains(&a.band),
        "--band must be in [0, 0.5] (got {})",
        a.band
    );
    let tasks = read_tasks(&a.file)?;
    let report = superpose_graph::audit::audit(&tasks, a.band)
        .with_context(|| format!("auditing {}", a.file.display()))?;
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["file"] = json!(a.file.display().to_string());
        println!("{v}");
    } else {
        println!("file:  {} ({} tasks)", a.file.display(), report.tasks);
        print!("{}", report.to_table());
        println!(
            "best root-agnostic rule: {} ({:.1}%)",
            report.best_rule,
            100.0 * report.best_root_agnostic
        );
        println!("verdict: {}", report.verdict);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn bench(a: BenchGraphArgs) -> anyhow::Result<ExitCode> {
    let family = Family::Prosqa(ProsqaParams::default());
    let t0 = Instant::now();
    let tasks = generate(&family, a.count, a.seed, None)?;
    let gen_s = t0.elapsed().as_secs_f64();
    let time_solver = |solver: Option<Solver>, tasks: &[ReachTask]| {
        let t = Instant::now();
        let mut correct = 0usize;
        let mut ops = 0u64;
        for task in tasks {
            let ans = match solver {
                None => solve_task(task),
                Some(s) => solve_task_with(task, s),
            };
            correct += ans.correct as usize;
            ops += ans.ops;
        }
        (t.elapsed().as_secs_f64(), correct, ops)
    };
    let (bfs_s, bfs_correct, bfs_ops) = time_solver(None, &tasks);
    let (rs_s, rs_correct, rs_ops) = time_solver(Some(Solver::ReachSets), &tasks);
    let (mp_s, mp_correct, mp_ops) = time_solver(Some(Solver::MatrixPower), &tasks);
    anyhow::ensure!(
        bfs_correct == tasks.len() && rs_correct == tasks.len() && mp_correct == tasks.len(),
        "a solver disagreed with a generated label"
    );
    let total = gen_s + bfs_s;
    let target_s = 10.0;
    let n = tasks.len() as f64;
    if a.json {
        println!(
            "{}",
            json!({
                "tasks": tasks.len(),
                "family": "prosqa",
                "generate_seconds": gen_s,
                "bfs_solve_seconds": bfs_s,
                "generate_and_solve_seconds": total,
                "tasks_per_second": n / total,
                "target_seconds": target_s,
                "ratio_to_target": total / target_s,
                "reach_sets_seconds": rs_s,
                "matrix_power_seconds": mp_s,
                "matrix_power_over_bfs_time": mp_s / bfs_s,
                "ops_per_task": {
                    "bfs": bfs_ops as f64 / n,
                    "reach_sets": rs_ops as f64 / n,
                    "matrix_power": mp_ops as f64 / n,
                },
            })
        );
    } else {
        println!(
            "{} ProsQA-size tasks (Algorithm 1 + names + Coconut text), one thread:",
            tasks.len()
        );
        println!(
            "  generate            {gen_s:8.3} s  ({:.1} µs/task)",
            1e6 * gen_s / n
        );
        println!(
            "  solve (BFS)         {bfs_s:8.3} s  ({:.2} µs/task, {:.1} ops/task)",
            1e6 * bfs_s / n,
            bfs_ops as f64 / n
        );
        println!("  generate + solve    {total:8.3} s  = {:.3} x the {target_s} s target ({:.0} tasks/s)", total / target_s, n / total);
        println!(
            "  solve (reach-sets)  {rs_s:8.3} s  ({:.2} µs/task, {:.1} ops/task)",
            1e6 * rs_s / n,
            rs_ops as f64 / n
        );
        println!("  solve (matrix-power){mp_s:8.3} s  ({:.2} µs/task, {:.0} ops/task) = {:.1} x BFS time", 1e6 * mp_s / n, mp_ops as f64 / n, mp_s / bfs_s);
    }
    Ok(ExitCode::SUCCESS)
}
