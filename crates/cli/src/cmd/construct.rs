//! `superpose reach ...` (owner: construct crate): the hand-built Theorem-1 transformer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use superpose_construct::capacity::{capacity_study, CapacityParams};
use superpose_construct::{ConstructOptions, Construction, NodeEmbedding, RunSummary, Thoughts};
use superpose_graph::generate::{generate, Family};
use superpose_graph::ReachTask;
use superpose_util::progress_bar;

#[derive(Subcommand)]
pub enum ReachCommand {
    /// Answer every task of a file (or a generated family) with the hand-built two-layer
    /// transformer of Zhu et al. 2025 (Theorem 1) run in the model runtime, and check each
    /// continuous thought against exact BFS.
    Construct(ConstructArgs),
    /// Capacity study: random unit node embeddings in d < n dimensions; accuracy and thought
    /// error against n, d, |R_c|, attention temperature and threshold (JSON + CSV tables).
    Capacity(CapacityArgs),
}

#[derive(Args)]
pub struct ConstructArgs {
    /// ProsQA JSON file (Coconut or symbolic records), e.g. data/prosqa/prosqa_valid.json.
    #[arg(long, required_unless_present = "family", conflicts_with = "family")]
    pub graph: Option<PathBuf>,
    /// Instead of --graph: generate tasks of this family (prosqa, chain, layered,
    /// erdos-renyi, grid, near-miss; default sizes).
    #[arg(long)]
    pub family: Option<String>,
    /// Number of tasks to generate with --family.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Seed of the generated tasks (--family).
    #[arg(long, default_value_t = 0)]
    pub gen_seed: u64,
    /// Node embedding dimension: seeded random unit vectors in D dimensions (the capacity
    /// setting). Default: orthonormal embeddings, d = n (the theorem).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Seed of the random node embeddings (--dim).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of continuous thoughts C per task. Default: the root's eccentricity (enough
    /// for every question about that root).
    #[arg(long)]
    pub thoughts: Option<usize>,
    /// Run only the first N tasks.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Multiply every attention scale ξ (temperature perturbation).
    #[arg(long, default_value_t = 1.0)]
    pub temperature_scale: f64,
    /// Multiply the MLP threshold ε = 1/(4n).
    #[arg(long, default_value_t = 1.0)]
    pub eps_scale: f64,
    /// Print, per task and thought, the decoded node set beside exact R_c and the costs.
    #[arg(long)]
    pub trace: bool,
    /// Print one JSON object (with --trace: every run in full) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CapacityArgs {
    /// Graph family: prosqa (Coconut Algorithm 1 with N = n), erdos-renyi (p = 2/n), chain.
    #[arg(long, default_value = "prosqa")]
    pub family: String,
    /// Graph sizes n, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![8usize, 16])]
    pub n: Vec<usize>,
    /// Random-embedding dimensions d, comma-separated (an orthonormal row is added per n).
    #[arg(long, value_delimiter = ',', default_values_t = vec![4usize, 16, 64, 256, 512])]
    pub dims: Vec<usize>,
    /// Number of seeds (each draws its own graphs and embeddings).
    #[arg(long, default_value_t = 3)]
    pub seeds: usize,
    /// Tasks per (n, seed).
    #[arg(long, default_value_t = 20)]
    pub tasks: usize,
    /// Attention temperature multipliers to try (besides 1).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.1f64, 0.25])]
    pub temperatures: Vec<f64>,
    /// Threshold multipliers to try (besides 1).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.5f64, 2.0])]
    pub eps_scales: Vec<f64>,
    /// Base seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory for capacity.json, capacity.csv and capacity_by_size.csv.
    #[arg(long, default_value = "capacity")]
    pub out: PathBuf,
    /// Print the report as JSON on stdout as well.
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: ReachCommand) -> anyhow::Result<ExitCode> {
    match c {
        ReachCommand::Construct(a) => construct(a),
        ReachCommand::Capacity(a) => capacity(a),
    }
}

fn load_tasks(a: &ConstructArgs) -> anyhow::Result<Vec<ReachTask>> {
    let mut tasks = if let Some(path) = &a.graph {
        superpose_graph::prosqa::read_tasks(path)
            .with_context(|| format!("reading tasks from {}", path.display()))?
    } else {
        let name = a.family.as_deref().unwrap_or("prosqa");
        let fam =
            Family::with_defaults(name).with_context(|| format!("unknown family `{name}`"))?;
        generate(&fam, a.count, a.gen_seed, None)?
    };
    if let Some(k) = a.limit {
        tasks.truncate(k);
    }
    anyhow::ensure!(!tasks.is_empty(), "no tasks to run");
    Ok(tasks)
}

fn set_str(s: &[usize]) -> String {
    let v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
    format!("{{{}}}", v.join(","))
}

fn construct(a: ConstructArgs) -> anyhow::Result<ExitCode> {
    for (flag, v) in [
        ("--temperature-scale", a.temperature_scale),
        ("--eps-scale", a.eps_scale),
    ] {
        anyhow::ensure!(
            v > 0.0 && v.is_finite(),
            "{flag} must be a finite positive number, got {v}"
        );
    }
    let tasks = load_tasks(&a)?;
    let thoughts = match a.thoughts {
        Some(c) => Thoughts::Fixed(c),
        None => Thoughts::Eccentricity,
    };
    let embedding = match a.dim {
        Some(dim) => NodeEmbedding::RandomUnit { dim, seed: a.seed },
        None => NodeEmbedding::Orthonormal,
    };
    let opts = ConstructOptions {
        embedding,
        temperature_scale: a.temperature_scale,
        eps_scale: a.eps_scale,
        ..ConstructOptions::default()
    };
    let con = Construction::sized_for(&tasks, thoughts, opts)?;
    let pb = progress_bar(tasks.len() as u64, "construct", true);
    let summary = con.run_tasks(&tasks, thoughts, |k| pb.set_position(k as u64))?;
    pb.finish_and_clear();
    let w = con.weights();
    if a.json {
        let mut v = serde_json::json!({
            "tasks": summary.tasks,
            "correct": summary.correct,
            "accuracy": summary.accuracy,
            "sufficient": summary.sufficient,
            "correct_sufficient": summary.correct_sufficient,
            "max_err": summary.max_err,
            "thoughts": summary.thoughts,
            "thoughts_set_exact": summary.thoughts_set_exact,
            "total_macs": summary.total_macs,
            "total_thought_macs": summary.total_thought_macs,
            "total_bfs_edge_visits": summary.total_bfs_edge_visits,
            "n_max": w.layout.n_max,
            "d_model": w.layout.d_model,
            "d_node": w.layout.d_node,
            "constants": w.constants,
        });
        if a.trace {
            v["runs"] = serde_json::to_value(&summary.runs)?;
        }
        // (a closed pipe, e.g. `| head`, is not an error)
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&v)?
        );
    } else {
        if a.trace {
            print_trace(&tasks, &summary);
        }
        print_summary(&summary, w);
    }
    Ok(if summary.correct_sufficient == summary.sufficient {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_trace(tasks: &[ReachTask], s: &RunSummary) {
    let mut out = std::io::stdout().lock();
    for (i, (t, r)) in tasks.iter().zip(&s.runs).enumerate() {
        let _ = writeln!(
            out,
            "task {i}: n={} m={} root={} candidates={:?} target={} hops={} C={} answer={} {}",
            r.n,
            r.m,
            t.root,
            t.candidates(),
            r.target,
            r.hops,
            r.num_thoughts,
            r.answer,
            if r.correct { "correct" } else { "WRONG" }
        );
        let _ = writeln!(
            out,
            "  {:>4} {:>5} {:>9} {:>10} {:>8} {:>10}  decoded / exact R_c",
            "c", "|R_c|", "max_err", "context", "MACs", "BFS edges"
        );
        for th in &r.thoughts {
            let _ = writeln!(
                out,
                "  {:>4} {:>5} {:>9.2e} {:>10} {:>8} {:>10}  {} {} {}",
                th.step,
                th.exact.len(),
                th.max_err,
                th.context,
                th.macs,
                th.bfs_edge_visits,
                set_str(&th.decoded),
                if th.set_exact { "==" } else { "!=" },
                set_str(&th.exact)
            );
        }
        let _ = writeln!(
            out,
            "  total MACs: prefill {} + thoughts {} + answer {}; BFS edge visits {}",
            r.prefill_macs, r.thought_macs, r.answer_macs, r.bfs_edge_visits
        );
    }
}

fn print_summary(s: &RunSummary, w: &superpose_construct::Weights) {
    // (a closed pipe, e.g. `| head`, is not an error)
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "tasks {}  correct {}  accuracy {:.4}",
        s.tasks, s.correct, s.accuracy
    );
    let _ = writeln!(
        out,
        "with C >= hops: {} tasks, {} correct; max thought error {:.2e}; thoughts decoding R_c exactly {}/{}",
        s.sufficient, s.correct_sufficient, s.max_err, s.thoughts_set_exact, s.thoughts
    );
    let _ = writeln!(
        out,
        "model: n_max {} d_model {} (d_node {}, d_pe {}), eps {:.5}",
        w.layout.n_max, w.layout.d_model, w.layout.d_node, w.layout.d_pe, w.constants.eps
    );
    let th = s.thoughts.max(1) as f64;
    let _ = writeln!(
        out,
        "cost per thought: {:.0} MACs vs {:.2} BFS edge visits; totals {} MACs ({} in thoughts) vs {} BFS edge visits",
        s.total_thought_macs as f64 / th,
        s.total_bfs_edge_visits as f64 / th,
        s.total_macs,
        s.total_thought_macs,
        s.total_bfs_edge_visits
    );
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    superpose_fsutil::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn capacity(a: CapacityArgs) -> anyhow::Result<ExitCode> {
    let p = CapacityParams {
        family: a.family,
        n_values: a.n,
        dims: a.dims,
        seeds: a.seeds,
        tasks_per_seed: a.tasks,
        temperatures: a.temperatures,
        eps_scales: a.eps_scales,
        base_seed: a.seed,
    };
    let pb = progress_bar(0, "capacity", true);
    let rep = capacity_study(&p, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })?;
    pb.finish_and_clear();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let json = serde_json::to_string_pretty(&rep)?;
    write_atomic(&a.out.join("capacity.json"), &json)?;
    write_atomic(&a.out.join("capacity.csv"), &rep.to_csv())?;
    write_atomic(&a.out.join("capacity_by_size.csv"), &rep.size_csv())?;
    if a.json {
        let _ = writeln!(std::io::stdout().lock(), "{json}");
    } else {
        let _ = write!(std::io::stdout().lock(), "{}", rep.to_csv());
        eprintln!(
            "wrote {}/capacity.json, capacity.csv, capacity_by_size.csv",
            a.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
