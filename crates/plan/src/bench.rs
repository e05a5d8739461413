//! Suite runner: one folder per domain (problem files with one domain file, or one per problem
//! as `pddl::suite_problems` pairs them), one CSV row per problem. Every plan is validated on
//! the lifted PDDL before it counts as solved.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{pddl, Algo, Limits, Outcome};

/// One problem's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchRow {
    /// Folder name.
    pub domain: String,
    /// Problem file stem.
    pub problem: String,
    pub algo: String,
    /// `solved`, `unsolvable`, `limit`, `error` or `invalid` (a plan that failed validation).
    pub status: String,
    /// Number of actions.
    pub plan_length: Option<usize>,
    /// Parallel steps (Graphplan levels) or sequential length.
    pub plan_steps: Option<usize>,
    pub facts: Option<usize>,
    pub actions: Option<usize>,
    /// Parse + ground + search wall-clock seconds.
    pub time_s: f64,
    /// Search alone (graph expansion and extraction for Graphplan).
    pub search_s: f64,
    pub detail: String,
    /// The plan's cost: the sum of its actions' IPC costs, its length without action costs.
    /// The last column, so that scripts reading the columns by position keep working.
    pub plan_cost: Option<f64>,
}

impl BenchRow {
    /// A row with status `error` and no numbers yet.
    fn error(domain: &str, problem: &Path, algo: Algo, detail: String) -> BenchRow {
        BenchRow {
            domain: domain.to_string(),
            problem: problem
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            algo: algo.name().to_string(),
            status: "error".into(),
            plan_length: None,
            plan_steps: None,
            facts: None,
            actions: None,
            time_s: 0.0,
            search_s: 0.0,
            detail,
            plan_cost: None,
        }
    }
}

/// Solve one problem file end to end.
pub fn run_problem(
    domain: &pddl::Domain,
    domain_name: &str,
    problem: &Path,
    algo: Algo,
    limits: &Limits,
) -> BenchRow {
    let start = Instant::now();
    let mut row = BenchRow::error(domain_name, problem, algo, String::new());
    let prob = match pddl::parse_problem(problem) {
        Ok(p) => p,
        Err(e) => {
            row.detail = e.to_string();
            row.time_s = start.elapsed().as_secs_f64();
            return row;
        }
    };
    let task = match crate::ground_within(domain, &prob, &limits.ground_limits(start)) {
        Ok(t) => t,
        Err(e) => {
            if matches!(e, crate::GroundError::LimitReached { .. }) {
                row.status = "limit".into();
            }
            row.detail = e.to_string();
            row.time_s = start.elapsed().as_secs_f64();
            return row;
        }
    };
    row.facts = Some(task.stats.facts);
    row.actions = Some(task.stats.actions);
    let r = crate::run_algo(&task, algo, &limits.remaining(start));
    row.search_s = r.time_s;
    row.status = r.outcome.status().to_string();
    match &r.outcome {
        Outcome::Solved(plan) => {
            row.plan_length = Some(plan.len());
            row.plan_steps = Some(plan.num_steps());
            row.plan_cost = Some(plan.cost(&task));
            if let Err(e) = crate::validate_plan(domain, &prob, &plan.ipc_calls(&task)) {
                row.status = "invalid".into();
                row.detail = e.to_string();
            }
        }
        Outcome::Unsolvable { reason, .. } => row.detail = reason.clone(),
        Outcome::LimitReached { reason } => row.detail = reason.clone(),
    }
    row.time_s = start.elapsed().as_secs_f64();
    row
}

/// Run the problems of every suite folder (the first `max_per_domain` of each in file-name
/// order, all when `None`); `on_row` sees each row as it is produced.
pub fn run_suites(
    dirs: &[PathBuf],
    algo: Algo,
    limits: &Limits,
    max_per_domain: Option<usize>,
    mut on_row: impl FnMut(&BenchRow),
) -> Vec<BenchRow> {
    let no_domain = format!("no domain file for this problem: {}", pddl::DOMAIN_FILES);
    let mut rows = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let mut problems = match pddl::suite_problems(dir) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                continue;
            }
        };
        problems.truncate(max_per_domain.unwrap_or(usize::MAX));
        // Each domain file parsed once (a folder has one, or one per problem).
        let mut domains: HashMap<PathBuf, Result<pddl::Domain, String>> = HashMap::new();
        for (domain_file, p) in problems {
            let domain = match &domain_file {
                Some(f) => domains
                    .entry(f.clone())
                    .or_insert_with(|| pddl::parse_domain(f).map_err(|e| e.to_string()))
                    .as_ref(),
                None => Err(&no_domain),
            };
            let row = match domain {
                Ok(d) => run_problem(d, &name, &p, algo, limits),
                Err(msg) => BenchRow::error(&name, &p, algo, msg.clone()),
            };
            on_row(&row);
            rows.push(row);
        }
    }
    rows
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The header line of the bench CSV (`plan bench`, `examples/bench_one.rs`; `bench/cpu_suite.py`
/// and the scripts built on it write the same columns, `bench/pyperplan_suite.py` the first five
/// and `time_s`).
pub const CSV_HEADER: &str = "domain,problem,algo,status,plan_length,plan_steps,facts,actions,\
                              time_s,search_s,detail,plan_cost";

impl BenchRow {
    /// The row as one CSV line (RFC 4180 quoting, no line end; times to 0.1 ms).
    pub fn to_csv_line(&self) -> String {
        let opt = |x: Option<usize>| x.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{:.4},{:.4},{},{}",
            csv_field(&self.domain),
            csv_field(&self.problem),
            self.algo,
            self.status,
            opt(self.plan_length),
            opt(self.plan_steps),
            opt(self.facts),
            opt(self.actions),
            self.time_s,
            self.search_s,
            csv_field(&self.detail),
            self.plan_cost.map(|c| c.to_string()).unwrap_or_default()
        )
    }
}

/// Write rows as CSV atomically (temp file, fsync, rename).
pub fn write_csv(rows: &[BenchRow], path: &Path) -> std::io::Result<()> {
    superpose_fsutil::write_atomic_with(path, |f| {
        writeln!(f, "{CSV_HEADER}")?;
        for r in rows {
            writeln!(f, "{}", r.to_csv_line())?;
        }
        Ok(())
    })
}

/// Per-domain summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DomainSummary {
    pub domain: String,
    pub problems: usize,
    pub solved: usize,
    pub unsolvable: usize,
    pub invalid: usize,
    /// Median total time over solved problems.
    pub median_time_s: Option<f64>,
}

/// Summarise rows per domain (in first-seen order).
pub fn summarize(rows: &[BenchRow]) -> Vec<DomainSummary> {
    let mut out: Vec<DomainSummary> = Vec::new();
    let mut times: Vec<Vec<f64>> = Vec::new();
    for r in rows {
        let i = match out.iter().position(|d| d.domain == r.domain) {
            Some(i) => i,
            None => {
                out.push(DomainSummary {
                    domain: r.domain.clone(),
                    problems: 0,
                    solved: 0,
                    unsolvable: 0,
                    invalid: 0,
                    median_time_s: None,
                });
                times.push(Vec::new());
                out.len() - 1
            }
        };
        out[i].problems += 1;
        match r.status.as_str() {
            "solved" => {
                out[i].solved += 1;
                times[i].push(r.time_s);
            }
            "unsolvable" => out[i].unsolvable += 1,
            "invalid" => out[i].invalid += 1,
            _ => {}
        }
    }
    for (d, mut t) in out.iter_mut().zip(times) {
        if !t.is_empty() {
            t.sort_by(|a, b| a.total_cmp(b));
            let m = t.len();
            d.median_time_s = Some(if m % 2 == 1 {
                t[m / 2]
            } else {
                (t[m / 2 - 1] + t[m / 2]) / 2.0
            });
        }
    }
    out
}
