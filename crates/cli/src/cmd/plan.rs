//! `superpose plan ...` (owner: plan crate): Graphplan and state-space planners for STRIPS PDDL.
//!
//! Exit codes: 0 solved (or plan valid), 1 proved unsolvable (or plan invalid), 2 bad input,
//! 3 limit reached.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use superpose_plan::bench::{run_suites, summarize, write_csv};
use superpose_plan::diagnostics::format_table;
use superpose_plan::{
    exact_reachable_by_level, load_within, parse_domain, parse_problem, pddl, relaxed_goal_level,
    run_algo, validate, validate_plan, Algo, GroundError, GroundTask, Limits, Outcome, RunResult,
};

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Solve a PDDL problem; prints the validated IPC plan (exit 0 solved, 1 unsolvable, 3 limit).
    Solve(SolveArgs),
    /// Check an IPC plan file by simulation; says which step fails and why (exit 0 valid, 1 invalid).
    Validate(ValidateArgs),
    /// Run a planner over suite folders (one domain file per folder, or per problem) and write one CSV row per problem.
    Bench(BenchArgs),
    /// Ground a problem and print fact and action counts.
    Ground(GroundArgs),
}

#[derive(Args)]
pub struct SolveArgs {
    /// PDDL domain file.
    domain: PathBuf,
    /// PDDL problem file.
    problem: PathBuf,
    /// Planner to run.
    #[arg(long, value_enum, default_value = "graphplan")]
    algo: Algo,
    /// Print the per-level table (facts, actions, mutex pairs, goals, extraction, memo, nodes).
    #[arg(long)]
    trace: bool,
    /// Also enumerate the states reachable within each level by BFS (small problems only).
    #[arg(long)]
    exact: bool,
    /// With --exact: stop enumerating after this many states.
    #[arg(long, default_value_t = 200_000)]
    exact_cap: usize,
    /// Print one JSON object (status, plan_length, plan_steps, plan_cost, levels, summary, time_s, plan) instead of text.
    #[arg(long)]
    json: bool,
    /// Write the IPC plan (`(action args)` lines, `; cost = N (unit cost)` or `(general cost)` last) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the parallel plan (`step: (action ...)`) instead of the sequential one.
    #[arg(long)]
    parallel: bool,
    /// Wall-clock limit in seconds (exit code 3 when reached).
    #[arg(long)]
    time_limit: Option<f64>,
    /// Graphplan: memory limit for the planning graph in MiB.
    #[arg(long, default_value_t = 2048)]
    max_graph_mb: usize,
    /// Memory limit for the instantiated actions while grounding, in MiB (exit code 3 when reached).
    #[arg(long, default_value_t = 2048)]
    max_ground_mb: usize,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// PDDL domain file.
    domain: PathBuf,
    /// PDDL problem file.
    problem: PathBuf,
    /// IPC plan file: one `(action arg ...)` per line, `;` comments.
    plan: PathBuf,
    /// Print a JSON object {"valid", "steps", "cost", "error"}.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Suite folders of problem files with one domain file, or one per problem named after it as in the IPC folders (`p01-domain.pddl`, `domain_p01.pddl`).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Planner to run.
    #[arg(long, value_enum, default_value = "graphplan")]
    algo: Algo,
    /// Seconds per problem (parse, ground and search).
    #[arg(long, default_value_t = 30.0)]
    time_limit: f64,
    /// Output CSV (one row per problem).
    #[arg(long)]
    csv: PathBuf,
    /// Run only the first N problems of each folder (sorted by file name).
    #[arg(long)]
    max_per_domain: Option<usize>,
    /// Print the per-domain summary as JSON.
    #[arg(long)]
    json: bool,
    /// Memory limit for the instantiated actions while grounding, in MiB (status `limit`).
    #[arg(long, default_value_t = 2048)]
    max_ground_mb: usize,
}

#[derive(Args)]
pub struct GroundArgs {
    /// PDDL domain file.
    domain: PathBuf,
    /// PDDL problem file.
    problem: PathBuf,
    /// Also list the ground actions.
    #[arg(long)]
    list: bool,
    /// Memory limit for the instantiated actions, in MiB (exit code 3 when reached).
    #[arg(long, default_value_t = 2048)]
    max_ground_mb: usize,
}

pub fn run(c: PlanCommand) -> anyhow::Result<ExitCode> {
    match c {
        PlanCommand::Solve(a) => solve(a),
        PlanCommand::Validate(a) => validate_cmd(a),
        PlanCommand::Bench(a) => bench(a),
        PlanCommand::Ground(a) => ground_cmd(a),
    }
}

fn exit_for(o: &Outcome) -> ExitCode {
    match o {
        Outcome::Solved(_) => ExitCode::SUCCESS,
        Outcome::Unsolvable { .. } => ExitCode::from(1),
        Outcome::LimitReached { .. } => ExitCode::from(3),
    }
}

fn solve(a: SolveArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let limits = Limits {
        max_graph_bytes: Limits::parse_mib("--max-graph-mb", a.max_graph_mb)?,
        max_ground_bytes: Limits::parse_mib("--max-ground-mb", a.max_ground_mb)?,
        time_limit: a
            .time_limit
            .map(|t| Limits::parse_time("--time-limit", t))
            .transpose()?,
        ..Limits::default()
    };
    let Some((domain, problem, task)) = load_or_limit(&a.domain, &a.problem, &limits, start)?
    else {
        return Ok(ExitCode::from(3));
    };
    print_notes(&superpose_plan::check(&domain, &problem)?);
    let algo = a.algo;
    // The time limit covers the whole command: what parsing and grounding took is spent.
    let mut r = run_algo(&task, algo, &limits.remaining(start));
    // Every plan is simulated on the lifted PDDL before it is printed.
    if let Outcome::Solved(plan) = &r.outcome {
        validate_plan(&domain, &problem, &plan.ipc_calls(&task)).map_err(|e| {
            anyhow::anyhow!(
                "internal error: {} produced an invalid plan: {e}",
                algo.name()
            )
        })?;
    }
    let exact_json = if a.exact {
        exact_levels(&task, &mut r, a.exact_cap)?
    } else {
        serde_json::Value::Null
    };
    let time_s = start.elapsed().as_secs_f64();
    if let (Some(p), Some(out)) = (r.outcome.plan(), &a.out) {
        superpose_fsutil::write_atomic(out, p.to_ipc(&task).as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    let solved = Solved {
        task: &task,
        algo,
        run: &r,
        exact: exact_json,
        time_s,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&solved.to_json(&a)?)?);
    } else {
        solved.print_text(&a);
    }
    Ok(exit_for(&r.outcome))
}

/// `--exact`: the states reachable within each level by BFS (up to the planning graph's last
/// level, or two past the relaxed goal level), written into the Graphplan level rows.
fn exact_levels(
    task: &GroundTask,
    r: &mut RunResult,
    cap: usize,
) -> anyhow::Result<serde_json::Value> {
    let max_level = r.graphplan.as_ref().map_or_else(
        || relaxed_goal_level(task).unwrap_or(0) + 2,
        |g| g.levels.len().saturating_sub(1),
    );
    let ex = exact_reachable_by_level(task, max_level, cap);
    if let Some(gp) = r.graphplan.as_mut() {
        for (row, e) in gp.levels.iter_mut().zip(&ex.levels) {
            row.exact_states = Some(e.states);
            row.exact_goal_state = Some(e.goal_state);
        }
    }
    Ok(serde_json::to_value(&ex)?)
}

/// What `plan solve` prints: the run of one planner on one ground task.
struct Solved<'a> {
    task: &'a GroundTask,
    algo: Algo,
    run: &'a RunResult,
    /// The `--exact` enumeration (null without it).
    exact: serde_json::Value,
    /// Seconds from the start of the command to the validated plan.
    time_s: f64,
}

impl Solved<'_> {
    /// The `--json` object.
    fn to_json(&self, a: &SolveArgs) -> anyhow::Result<serde_json::Value> {
        let (r, task) = (self.run, self.task);
        let plan = r.outcome.plan();
        let levels = r
            .graphplan
            .as_ref()
            .map(|g| serde_json::to_value(&g.levels))
            .transpose()?
            .unwrap_or(json!([]));
        let summary = r
            .graphplan
            .as_ref()
            .map(|g| serde_json::to_value(&g.summary))
            .transpose()?
            .unwrap_or(json!(null));
        let (reason, stage) = match &r.outcome {
            Outcome::Solved(_) => (None, None),
            Outcome::Unsolvable { stage, reason } => (Some(reason.clone()), Some(*stage)),
            Outcome::LimitReached { reason } => (Some(reason.clone()), None),
        };
        Ok(json!({
            "status": r.outcome.status(),
            "algo": self.algo.name(),
            "domain": a.domain.display().to_string(),
            "problem": a.problem.display().to_string(),
            "plan_length": plan.map(|p| p.len()),
            "plan_steps": plan.map(|p| p.num_steps()),
            "plan_cost": plan.map(|p| p.cost(task)),
            "cost_kind": task.cost_kind(),
            "plan": plan.map(|p| p.ipc_calls(task)),
            "parallel_plan": plan.map(|p| p.steps.iter().map(|s| s.iter().map(|&x| task.actions[x].name()).collect::<Vec<_>>()).collect::<Vec<_>>()),
            "levels": levels,
            "summary": summary,
            "unsolvable_stage": stage,
            "reason": reason,
            "exact": self.exact,
            "expanded": r.expanded,
            "ground": task.stats,
            "search_s": r.time_s,
            "time_s": self.time_s,
        }))
    }

    /// The text report: grounding sizes, the optional trace, the plan and a status line.
    fn print_text(&self, a: &SolveArgs) {
        let (r, task, time_s, name) = (self.run, self.task, self.time_s, self.algo.name());
        println!(
            "; {} {}: {} facts, {} actions after grounding ({} instantiated)",
            task.domain_name,
            task.problem_name,
            task.stats.facts,
            task.stats.actions,
            task.stats.instantiated_actions
        );
        if a.trace {
            match &r.graphplan {
                Some(g) => {
                    print!("{}", format_table(&g.levels));
                    if g.summary.goal_cone_only {
                        println!("(graphplan-sat: solved on the graph built inside the goals' cone only; facts and actions count the cone's nodes, and no action mutexes were computed)");
                    }
                }
                None => eprintln!(
                    "note: --trace shows the planning-graph table; it applies to --algo graphplan"
                ),
            }
        }
        if a.exact && r.graphplan.is_none() {
            println!("; exact reachability: {}", self.exact);
        }
        match &r.outcome {
            Outcome::Solved(p) => {
                if a.parallel {
                    print!("{}", p.to_parallel(task));
                } else if r.graphplan.is_some() {
                    print!("{}", p.to_ipc_with_steps(task));
                } else {
                    print!("{}", p.to_ipc(task));
                }
                println!(
                    "; solved by {name}: {} actions, {} steps, validated, {time_s:.3} s",
                    p.len(),
                    p.num_steps(),
                );
            }
            Outcome::Unsolvable { stage, reason } => {
                println!("; unsolvable ({name}, stage {stage}): {reason}; {time_s:.3} s")
            }
            Outcome::LimitReached { reason } => {
                println!("; limit reached ({name}): {reason}; {time_s:.3} s")
            }
        }
    }
}

/// Prints the front end's notes (e.g. a domain constant resolved to a problem object) on stderr.
fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("{n}");
    }
}

fn validate_cmd(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let domain = parse_domain(&a.domain)?;
    let problem = parse_problem(&a.problem)?;
    print_notes(&superpose_plan::check(&domain, &problem)?);
    let lines = validate::parse_plan_file(&a.plan)?;
    let calls: Vec<&str> = lines.iter().map(|l| l.call.as_str()).collect();
    let result = validate_plan(&domain, &problem, &calls);
    // Map a failing step back to its line in the plan file.
    let line_of = |step: usize| lines.get(step.wrapping_sub(1)).map(|l| l.line);
    if a.json {
        let v = match &result {
            Ok(r) => json!({"valid": true, "steps": r.steps, "cost": r.cost, "error": null}),
            Err(e) => {
                let line = match e {
                    validate::ValidationError::Step { step, .. } => line_of(*step),
                    _ => None,
                };
                json!({"valid": false, "steps": calls.len(), "error": e.to_string(), "line": line})
            }
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match &result {
            Ok(r) => println!("{r}"),
            Err(e @ validate::ValidationError::Step { step, .. }) => {
                println!(
                    "plan invalid: {}:{}: {e}",
                    a.plan.display(),
                    line_of(*step).unwrap_or(0)
                )
            }
            Err(e) => println!("plan invalid: {e}"),
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn bench(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits {
        time_limit: Some(Limits::parse_time("--time-limit", a.time_limit)?),
        max_ground_bytes: Limits::parse_mib("--max-ground-mb", a.max_ground_mb)?,
        ..Limits::default()
    };
    // Check every folder before running any (a typo fails at once, not after an hour).
    let mut total = 0u64;
    for d in &a.dirs {
        let problems = pddl::suite_problems(d)
            .with_context(|| format!("reading suite folder {}", d.display()))?;
        anyhow::ensure!(
            problems.iter().any(|(domain, _)| domain.is_some()),
            "{}: no problem in the folder has a domain file: {}",
            d.display(),
            pddl::DOMAIN_FILES
        );
        let n = a
            .max_per_domain
            .map_or(problems.len(), |m| m.min(problems.len()));
        total += n as u64;
    }
    let pb = superpose_util::progress_bar(total, "plan bench", true);
    let algo = a.algo;
    let mut rows = Vec::new();
    let mut write_error = None;
    run_suites(&a.dirs, algo, &limits, a.max_per_domain, |r| {
        pb.inc(1);
        pb.set_message(format!("{}/{} {}", r.domain, r.problem, r.status));
        rows.push(r.clone());
        // Keep the CSV current after every problem (an interrupted run keeps its rows).
        if write_error.is_none() {
            write_error = write_csv(&rows, &a.csv).err();
        }
    });
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("writing {}", a.csv.display()));
    }
    pb.finish_and_clear();
    let summary = summarize(&rows);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{:<14} {:>8} {:>7} {:>11} {:>8} {:>14}",
            "domain", "problems", "solved", "unsolvable", "invalid", "median_time_s"
        );
        for s in &summary {
            println!(
                "{:<14} {:>8} {:>7} {:>11} {:>8} {:>14}",
                s.domain,
                s.problems,
                s.solved,
                s.unsolvable,
                s.invalid,
                s.median_time_s.map_or("-".into(), |t| format!("{t:.3}"))
            );
        }
        let solved: usize = summary.iter().map(|s| s.solved).sum();
        println!(
            "total: {solved}/{} solved ({}, {} s per problem); rows in {}",
            rows.len(),
            algo.name(),
            a.time_limit,
            a.csv.display()
        );
    }
    let invalid: usize = summary.iter().map(|s| s.invalid).sum();
    anyhow::ensure!(
        invalid == 0,
        "{invalid} plans failed validation (see {})",
        a.csv.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Parse and ground within the limits; `None` (after saying so on stderr) when grounding reached
/// one (exit code 3).
fn load_or_limit(
    domain: &std::path::Path,
    problem: &std::path::Path,
    limits: &Limits,
    start: Instant,
) -> anyhow::Result<Option<(pddl::Domain, pddl::Problem, GroundTask)>> {
    match load_within(domain, problem, &limits.ground_limits(start)) {
        Err(superpose_plan::Error::Ground(e @ GroundError::LimitReached { .. })) => {
            eprintln!("limit reached: {e} (see --time-limit, --max-ground-mb)");
            Ok(None)
        }
        loaded => Ok(Some(loaded?)),
    }
}

fn ground_cmd(a: GroundArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits {
        max_ground_bytes: Limits::parse_mib("--max-ground-mb", a.max_ground_mb)?,
        ..Limits::default()
    };
    let Some((domain, problem, task)) =
        load_or_limit(&a.domain, &a.problem, &limits, Instant::now())?
    else {
        return Ok(ExitCode::from(3));
    };
    print_notes(&superpose_plan::check(&domain, &problem)?);
    let s = &task.stats;
    let how = if s.reachability_driven {
        "reachable, instantiated driven by relaxed reachability"
    } else {
        "instantiated before reachability pruning"
    };
    println!(
        "{} {}: {} facts, {} actions ({} {how}), {} static facts, {} goals",
        task.domain_name,
        task.problem_name,
        s.facts,
        s.actions,
        s.instantiated_actions,
        s.static_facts,
        task.goal.len()
    );
    if let Some(l) = relaxed_goal_level(&task) {
        println!("relaxed goal level (h_max of the initial state): {l}");
    } else {
        println!("goals relaxed-unreachable: unsolvable");
    }
    if a.list {
        for act in &task.actions {
            println!("{act}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
