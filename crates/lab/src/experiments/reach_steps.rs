//! `reach-steps-vs-work`: sequential steps against total work for graph reachability.
//!
//! Per graph family and size: the continuous thoughts the Theorem-1 construction (Zhu et al.
//! 2025) runs, beside the root eccentricity (BFS rounds) and the diameter; and the work of
//! each method: the construction's multiply-adds, BFS edge visits, and the boolean
//! matrix-power closure (log-depth parallel algorithm, n³ products per squaring).

use std::path::Path;

use serde_json::{json, Value};
use superpose_graph::generate::{generate, Family};
use superpose_graph::{prosqa, solve, ReachTask};

use super::construct_bridge::{self, Cost};
use crate::plot::{xy_plot, Axis, Series, XyPlot};
use crate::report::{ExperimentResult, Plot, Status};
use crate::table::{fmt_sig, table_row, Row, Table};
use crate::{data, progress_bar, ExperimentId, LabError, RunOptions};

/// One (family, size) group of tasks.
#[derive(Clone, Debug)]
pub struct Group {
    /// Short size label, e.g. `n=32` or `4x8`.
    pub size: String,
    pub family: GroupSource,
    pub count: usize,
    pub seed: u64,
}

/// Where a group's tasks come from.
#[derive(Clone, Debug)]
pub enum GroupSource {
    Generated(Family),
    /// The first `count` records of the embedded ProsQA validation split.
    ProsqaValid,
}

impl Group {
    pub fn family_name(&self) -> &'static str {
        match &self.family {
            GroupSource::Generated(f) => f.name(),
            GroupSource::ProsqaValid => "prosqa-valid",
        }
    }

    /// The group's tasks (deterministic given the seed).
    pub fn tasks(&self) -> Result<Vec<ReachTask>, LabError> {
        match &self.family {
            GroupSource::Generated(f) => generate(f, self.count, self.seed, None)
                .map_err(|e| LabError::Input(format!("generating {}: {e}", f.name()))),
            GroupSource::ProsqaValid => {
                let recs =
                    prosqa::parse_records(data::PROSQA_VALID, Path::new("prosqa_valid.json"))
                        .map_err(|e| LabError::Input(e.to_string()))?;
                recs.iter()
                    .take(self.count)
                    .enumerate()
                    .map(|(i, r)| {
                        r.to_task().map_err(|e| {
                            LabError::Input(format!(
                                "prosqa_valid.json record {i}, field `{}`: {}",
                                e.0, e.1
                            ))
                        })
                    })
                    .collect()
            }
        }
    }
}

/// The groups of a run: small sizes in quick mode, up to a few hundred nodes otherwise.
pub fn groups(quick: bool, seed: u64) -> Vec<Group> {
    let count = if quick { 3 } else { 10 };
    let mut g = Vec::new();
    let push = |size: String, family: Family, g: &mut Vec<Group>| {
        let s = seed.wrapping_add(g.len() as u64 * 1000);
        g.push(Group {
            size,
            family: GroupSource::Generated(family),
            count,
            seed: s,
        })
    };
    let chain: &[usize] = if quick {
        &[8, 16, 32]
    } else {
        &[8, 16, 32, 64, 128]
    };
    for &n in chain {
        push(format!("n={n}"), Family::Chain { n }, &mut g);
    }
    let depths: &[usize] = if quick { &[3, 6, 12] } else { &[4, 8, 16, 24] };
    for &depth in depths {
        push(
            format!("8x{depth}"),
            Family::Layered {
                width: 8,
                depth,
                p: 0.04,
            },
            &mut g,
        );
    }
    let ers: &[usize] = if quick {
        &[12, 24, 40]
    } else {
        &[16, 32, 64, 128]
    };
    for &n in ers {
        push(
            format!("n={n}"),
            Family::ErdosRenyi {
                n,
                p: 2.0 / n as f64,
            },
            &mut g,
        );
    }
    let sides: &[usize] = if quick { &[3, 4, 6] } else { &[4, 6, 8, 11] };
    for &s in sides {
        push(
            format!("{s}x{s}"),
            Family::Grid { rows: s, cols: s },
            &mut g,
        );
    }
    let hops: &[usize] = if quick { &[3, 6] } else { &[4, 8, 16] };
    for &h in hops {
        push(
            format!("hops={h}"),
            Family::NearMiss {
                n: 4 * h,
                hops: h,
                p: 1.0 / (4 * h) as f64,
            },
            &mut g,
        );
    }
    g.push(Group {
        size: "valid".into(),
        family: GroupSource::ProsqaValid,
        count: if quick { 12 } else { 300 },
        seed,
    });
    g
}

/// Per-task measurements from the graph crate (exact solvers with operation counts).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskMeasure {
    pub n: usize,
    pub m: usize,
    pub hops: usize,
    pub eccentricity: usize,
    pub diameter: usize,
    /// BFS from the root to exhaustion: edge visits.
    pub bfs_edge_visits: u64,
    /// Per-hop reachable sets R_0..R_hops (what `hops` thoughts must hold): edge visits.
    pub reach_edge_visits: u64,
    pub matrix_squarings: usize,
    pub matrix_ops: u64,
}

/// Measures one task with the graph crate's solvers.
pub fn measure(task: &ReachTask) -> TaskMeasure {
    let g = &task.graph;
    let b = solve::bfs(g, task.root);
    let hops = task.hops();
    let r = solve::reach_sets(g, task.root, hops);
    let closure = solve::matrix_power_reachability(g);
    TaskMeasure {
        n: g.n(),
        m: g.num_edges(),
        hops,
        eccentricity: b.eccentricity(),
        diameter: solve::diameter(g).value,
        bfs_edge_visits: b.ops,
        reach_edge_visits: r.ops,
        matrix_squarings: closure.squarings,
        matrix_ops: closure.ops,
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = xs.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Least-squares slope of log y against log x (the exponent a in y ∝ x^a).
pub fn loglog_slope(points: &[(f64, f64)]) -> Option<f64> {
    let p: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if p.len() < 2 {
        return None;
    }
    let k = p.len() as f64;
    let mx = p.iter().map(|q| q.0).sum::<f64>() / k;
    let my = p.iter().map(|q| q.1).sum::<f64>() / k;
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

table_row! {
    /// One task of a group (the `tasks` table); construction cells are None when the
    /// construction could not run.
    pub struct TaskRow {
        family: String => ("", "graph family"),
        size: String => ("", "size parameter of the group"),
        task: usize => ("", "index of the task in its group"),
        n: usize => ("nodes", "nodes"),
        m: usize => ("edges", "edges"),
        hops: usize => ("steps", "shortest root→target path length"),
        eccentricity: usize => (
            "steps",
            "root eccentricity = BFS rounds to exhaust the reachable set"
        ),
        diameter: usize => ("steps", "graph diameter (largest finite distance)"),
        thoughts: Option<usize> => ("steps", "continuous thoughts the construction ran"),
        construct_correct: Option<bool> => ("", "the construction answered correctly"),
        construct_macs: Option<u64> => (
            "multiply-adds",
            "construction: multiply-adds of the whole forward computation (prompt, thoughts, answer)"
        ),
        thought_macs: Option<u64> => (
            "multiply-adds",
            "construction: multiply-adds of the thought steps only"
        ),
        bfs_edge_visits: u64 => ("edge visits", "BFS from the root to exhaustion"),
        reach_edge_visits: u64 => ("edge visits", "exact per-hop reachable sets R_0..R_hops"),
        matrix_squarings: usize => (
            "steps",
            "boolean matrix squarings (sequential depth of the parallel closure)"
        ),
        matrix_ops: u64 => (
            "boolean ops",
            "boolean AND/OR products of the matrix-power closure (n³ per squaring)"
        ),
    }
}

table_row! {
    /// One (family, size) group (the `results` table): means over its tasks; construction
    /// cells are None unless every task has a cost.
    pub struct GroupRow {
        family: String => ("", "graph family"),
        size: String => ("", "size parameter"),
        tasks: usize => ("tasks", "tasks in the group"),
        n: Option<f64> => ("nodes", "mean nodes"),
        m: Option<f64> => ("edges", "mean edges"),
        hops: Option<f64> => ("steps", "mean shortest root→target path length"),
        eccentricity: Option<f64> => ("steps", "mean root eccentricity (BFS rounds)"),
        diameter: Option<f64> => ("steps", "mean diameter"),
        thoughts: Option<f64> => ("steps", "mean continuous thoughts of the construction"),
        construct_accuracy: Option<f64> => (
            "",
            "share of tasks the construction answered correctly"
        ),
        construct_macs: Option<f64> => (
            "multiply-adds",
            "mean multiply-adds of the construction (whole forward computation)"
        ),
        bfs_edge_visits: Option<f64> => ("edge visits", "mean BFS edge visits"),
        matrix_squarings: Option<f64> => ("steps", "mean boolean matrix squarings"),
        matrix_ops: Option<f64> => (
            "boolean ops",
            "mean boolean products of the matrix-power closure"
        ),
    }
}

/// The columns of the `tasks` table.
pub const TASK_COLUMNS: &[(&str, &str, &str)] = TaskRow::COLUMNS;
/// The columns of the `results` table.
pub const GROUP_COLUMNS: &[(&str, &str, &str)] = GroupRow::COLUMNS;

pub fn run(opts: &RunOptions) -> Result<ExperimentResult, LabError> {
    let groups = groups(opts.quick, opts.seed);
    let measured = measure_groups(&groups, opts)?;
    let plots = plots(&measured.groups)?;
    let (interpretation, summary) = interpret(&measured);
    Ok(ExperimentResult {
        id: ExperimentId::ReachStepsVsWork,
        status: Status::Ok,
        quick: opts.quick,
        params: json!({
            "seed": opts.seed,
            "groups": groups.iter().map(|g| format!("{} {} x{}", g.family_name(), g.size, g.count)).collect::<Vec<_>>(),
            "construction": construct_bridge::describe(),
        }),
        table: measured.groups,
        extra_tables: vec![measured.tasks],
        plots,
        interpretation,
        summary,
        elapsed_s: 0.0,
        terminal_columns: vec![
            "family",
            "size",
            "n",
            "m",
            "hops",
            "diameter",
            "thoughts",
            "construct_macs",
            "bfs_edge_visits",
            "matrix_squarings",
            "matrix_ops",
        ],
    })
}

/// The two tables of a run and why construction cells are empty, if they are.
struct Measured {
    /// One row per (family, size) group (`GroupRow`).
    groups: Table,
    /// One row per task (`TaskRow`).
    tasks: Table,
    /// The first reason the construction could not run on a group.
    construct_error: Option<String>,
}

/// Measures every task of every group (graph solvers and the construction) into the task
/// and group tables.
fn measure_groups(groups: &[Group], opts: &RunOptions) -> Result<Measured, LabError> {
    let mut out = Measured {
        groups: Table::of::<GroupRow>("results"),
        tasks: Table::of::<TaskRow>("tasks"),
        construct_error: None,
    };
    let total: usize = groups.iter().map(|g| g.count).sum();
    let pb = progress_bar(total as u64, "reach-steps-vs-work", opts.progress);
    for g in groups {
        pb.set_message(format!("{} {}", g.family_name(), g.size));
        let tasks = g.tasks()?;
        let costs = match construct_bridge::group_costs(&tasks) {
            Ok(c) => c.into_iter().map(Some).collect(),
            Err(e) => {
                (out.construct_error).get_or_insert(format!("{} {}: {e}", g.family_name(), g.size));
                vec![None; tasks.len()]
            }
        };
        let mut rows: Vec<(TaskMeasure, Option<Cost>)> = Vec::new();
        for ((i, t), c) in tasks.iter().enumerate().zip(costs) {
            let m = measure(t);
            out.tasks.push_row(&task_row(g, i, &m, c.as_ref()))?;
            rows.push((m, c));
            pb.inc(1);
        }
        out.groups.push_row(&group_row(g, &rows))?;
    }
    pb.finish_and_clear();
    Ok(out)
}

/// A row of the task table; construction cells are None without a cost.
fn task_row(g: &Group, i: usize, m: &TaskMeasure, c: Option<&Cost>) -> TaskRow {
    TaskRow {
        family: g.family_name().into(),
        size: g.size.clone(),
        task: i,
        n: m.n,
        m: m.m,
        hops: m.hops,
        eccentricity: m.eccentricity,
        diameter: m.diameter,
        thoughts: c.map(|c| c.thoughts),
        construct_correct: c.map(|c| c.correct),
        construct_macs: c.map(|c| c.total_macs),
        thought_macs: c.map(|c| c.thought_macs),
        bfs_edge_visits: m.bfs_edge_visits,
        reach_edge_visits: m.reach_edge_visits,
        matrix_squarings: m.matrix_squarings,
        matrix_ops: m.matrix_ops,
    }
}

/// A row of the group table: means over the group's tasks; construction cells are None
/// unless every task has a cost.
fn group_row(g: &Group, rows: &[(TaskMeasure, Option<Cost>)]) -> GroupRow {
    let f = |k: fn(&TaskMeasure) -> f64| mean(rows.iter().map(|(m, _)| k(m)));
    let costs: Vec<_> = rows.iter().filter_map(|(_, c)| c.clone()).collect();
    let cm = |k: fn(&Cost) -> f64| {
        if costs.len() == rows.len() && !costs.is_empty() {
            mean(costs.iter().map(k))
        } else {
            None
        }
    };
    GroupRow {
        family: g.family_name().into(),
        size: g.size.clone(),
        tasks: rows.len(),
        n: f(|m| m.n as f64),
        m: f(|m| m.m as f64),
        hops: f(|m| m.hops as f64),
        eccentricity: f(|m| m.eccentricity as f64),
        diameter: f(|m| m.diameter as f64),
        thoughts: cm(|c| c.thoughts as f64),
        construct_accuracy: cm(|c| if c.correct { 1.0 } else { 0.0 }),
        construct_macs: cm(|c| c.total_macs as f64),
        bfs_edge_visits: f(|m| m.bfs_edge_visits as f64),
        matrix_squarings: f(|m| m.matrix_squarings as f64),
        matrix_ops: f(|m| m.matrix_ops as f64),
    }
}

/// (n, column) points of the group table where both are numbers.
fn points(table: &Table, name: &str) -> Vec<(f64, f64)> {
    let n = table.column_f64("n");
    table
        .column_f64(name)
        .into_iter()
        .zip(n)
        .filter_map(|(y, x)| Some((x?, y?)))
        .collect()
}

/// Sequential steps and total work against n, log–log.
fn plots(table: &Table) -> Result<Vec<Plot>, LabError> {
    let col = |name: &str| points(table, name);
    let steps_plot = XyPlot {
        title: "Sequential steps against graph size".into(),
        x: Axis::log("nodes n [count]"),
        y: Axis::log("sequential steps [count]"),
        series: vec![
            Series::new("continuous thoughts (construction)", col("thoughts"), false),
            Series::new("BFS rounds (root eccentricity)", col("eccentricity"), false),
            Series::new("diameter", col("diameter"), false),
            Series::new(
                "matrix squarings (log-depth closure)",
                col("matrix_squarings"),
                false,
            ),
        ],
        diagonal: false,
    };
    let work_plot = XyPlot {
        title: "Total work against graph size".into(),
        x: Axis::log("nodes n [count]"),
        y: Axis::log("work [operations]"),
        series: vec![
            Series::new("construction multiply-adds", col("construct_macs"), false),
            Series::new("BFS edge visits", col("bfs_edge_visits"), false),
            Series::new("matrix-power boolean products", col("matrix_ops"), false),
        ],
        diagonal: false,
    };
    Ok(vec![
        Plot {
            file_name: "steps.svg".into(),
            caption: "Sequential steps (thoughts, BFS rounds, diameter, matrix squarings) against n, log–log; one point per family and size".into(),
            svg: xy_plot(&steps_plot)?,
        },
        Plot {
            file_name: "work.svg".into(),
            caption: "Work (construction multiply-adds, BFS edge visits, matrix-power products) against n, log–log".into(),
            svg: xy_plot(&work_plot)?,
        },
    ])
}

/// The interpretation paragraphs and the summary numbers.
fn interpret(m: &Measured) -> (Vec<String>, serde_json::Map<String, Value>) {
    let table = &m.groups;
    let mut interpretation = Vec::new();
    let mut summary = serde_json::Map::new();
    if let Some(reason) = &m.construct_error {
        interpretation.push(format!(
            "Some construction cells are empty: the construction could not run ({reason}). \
             The graph columns are measured."
        ));
    }
    interpretation.extend(interpret_work(table, &mut summary));
    interpretation.extend(interpret_chain(table, &mut summary));
    interpretation.extend(interpret_thoughts(table, &mut summary));
    summary.insert("groups".into(), json!(table.rows.len()));
    summary.insert("tasks".into(), json!(m.tasks.rows.len()));
    (interpretation, summary)
}

/// The fitted growth exponents of the work of each method.
fn interpret_work(table: &Table, summary: &mut serde_json::Map<String, Value>) -> Option<String> {
    let slopes: Vec<(&str, &str)> = vec![
        ("construct_macs", "construction multiply-adds"),
        ("bfs_edge_visits", "BFS edge visits"),
        ("matrix_ops", "matrix-power products"),
    ];
    let mut parts = Vec::new();
    let mut fitted = std::collections::HashMap::new();
    for (c, label) in &slopes {
        if let Some(s) = loglog_slope(&points(table, c)) {
            summary.insert(format!("{c}_loglog_slope"), json!(s));
            fitted.insert(*c, s);
            parts.push(format!(
                "{label} ∝ n^{}",
                fmt_sig((s * 100.0).round() / 100.0)
            ));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let mut text = format!(
        "Fitted over all families and sizes (least squares on log–log axes): {}.",
        parts.join(", ")
    );
    if let (Some(c), Some(b)) = (fitted.get("construct_macs"), fitted.get("bfs_edge_visits")) {
        text.push_str(&if c > b {
            format!(
                " The construction's work grows faster with n than BFS's (exponent {} vs {}): \
                 every thought attends over every edge position at full width, whatever the \
                 frontier.",
                fmt_sig((c * 100.0).round() / 100.0),
                fmt_sig((b * 100.0).round() / 100.0)
            )
        } else {
            " The construction's work does not grow faster with n than BFS's here.".to_string()
        });
    }
    Some(text)
}

/// Sequential steps against total work on the largest chain.
fn interpret_chain(table: &Table, summary: &mut serde_json::Map<String, Value>) -> Option<String> {
    let last = (0..table.rows.len()).rfind(|&r| table.get(r, "family") == Some(&json!("chain")))?;
    let g = |c: &str| table.get(last, c).and_then(Value::as_f64);
    let (n, ecc, sq, bfs, mo) = (
        g("n")?,
        g("eccentricity")?,
        g("matrix_squarings")?,
        g("bfs_edge_visits")?,
        g("matrix_ops")?,
    );
    let thoughts = g("thoughts")
        .map(|t| format!("the construction ran {} thoughts, ", fmt_sig(t)))
        .unwrap_or_default();
    let macs = g("construct_macs")
        .map(|m| {
            format!(
                " The construction spent {} multiply-adds ({}× the BFS edge visits).",
                fmt_sig(m),
                fmt_sig(m / bfs.max(1.0))
            )
        })
        .unwrap_or_default();
    let verdict = if sq < ecc && mo > bfs {
        ": fewer sequential steps, more total work"
    } else {
        ""
    };
    summary.insert("largest_chain_n".into(), json!(n));
    summary.insert(
        "largest_chain_matrix_over_bfs".into(),
        json!(mo / bfs.max(1.0)),
    );
    Some(format!(
        "On the largest chain (n = {}), {}BFS needs {} rounds and {} edge visits, \
         while the log-depth matrix closure needs {} squarings and {} boolean \
         products ({}× the BFS work){}.{}",
        fmt_sig(n),
        thoughts,
        fmt_sig(ecc),
        fmt_sig(bfs),
        fmt_sig(sq),
        fmt_sig(mo),
        fmt_sig(mo / bfs.max(1.0)),
        verdict,
        macs
    ))
}

/// Thought counts against depth, thoughts per node, and the construction's accuracy.
fn interpret_thoughts(table: &Table, summary: &mut serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let th = table.column_f64("thoughts");
    let hops = table.column_f64("hops");
    let ecc = table.column_f64("eccentricity");
    let diam = table.column_f64("diameter");
    let with_thoughts: Vec<usize> = (0..th.len()).filter(|&i| th[i].is_some()).collect();
    if with_thoughts.is_empty() {
        return out;
    }
    let le_diam = with_thoughts.iter().filter(|&&i| th[i] <= diam[i]).count();
    let eq_hops = with_thoughts
        .iter()
        .filter(|&&i| (th[i].unwrap_or(0.0) - hops[i].unwrap_or(-1.0)).abs() < 1e-9)
        .count();
    let eq_ecc = with_thoughts
        .iter()
        .filter(|&&i| (th[i].unwrap_or(0.0) - ecc[i].unwrap_or(-1.0)).abs() < 1e-9)
        .count();
    out.push(format!(
        "Thought steps: in {}/{} groups the construction's mean thought count is at most the \
         mean diameter; it equals the mean shortest-path length in {} and the mean root \
         eccentricity in {} groups{}.",
        le_diam,
        with_thoughts.len(),
        eq_hops,
        eq_ecc,
        if eq_ecc == with_thoughts.len() {
            ": the number of thoughts follows the graph's depth, not its node count"
        } else {
            ""
        }
    ));
    // thoughts per node: where superposition saves sequential steps and where it does not
    let ratio = |i: usize| Some(th[i]? / table.get(i, "n")?.as_f64()?);
    let label = |i: usize| {
        format!(
            "{} {}",
            table.get(i, "family").and_then(Value::as_str).unwrap_or(""),
            table.get(i, "size").and_then(Value::as_str).unwrap_or("")
        )
    };
    let lo = with_thoughts
        .iter()
        .filter_map(|&i| Some((ratio(i)?, i)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let hi = with_thoughts
        .iter()
        .filter_map(|&i| Some((ratio(i)?, i)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some((rl, il)), Some((rh, ih))) = (lo, hi) {
        out.push(format!(
            "Thoughts per node range from {} ({}) to {} ({}): one thought per BFS level \
             saves sequential steps only where the graph is shallow relative to its size.",
            fmt_sig(rl),
            label(il),
            fmt_sig(rh),
            label(ih)
        ));
    }
    let accs: Vec<f64> = table
        .column_f64("construct_accuracy")
        .into_iter()
        .flatten()
        .collect();
    if !accs.is_empty() {
        let min = accs.iter().copied().fold(1.0, f64::min);
        summary.insert("construct_min_group_accuracy".into(), json!(min));
        out.push(format!(
            "Accuracy of the construction (orthonormal embeddings): lowest group accuracy {}.",
            fmt_sig(min)
        ));
    }
    out
}
