//! `reach-capacity`: where superposition runs out of room. The Theorem-1 construction with
//! its orthonormal node embeddings replaced by seeded random unit vectors in d < n
//! dimensions (the `construct` crate's capacity study), accuracy against d for several n and
//! reached-set sizes.

use serde_json::{json, Value};
use superpose_construct::capacity::{
    capacity_study, CapacityParams, CapacityReport, CapacityRow, SizeRow,
};

use crate::plot::{heatmap, xy_plot, Axis, Heatmap, Series, XyPlot};
use crate::report::{ExperimentResult, Plot, Status};
use crate::table::{fmt_sig, table_row, Row, Table};
use crate::{progress_bar, ExperimentId, LabError, RunOptions};

/// The sweep of a run.
pub fn params(quick: bool, seed: u64) -> CapacityParams {
    if quick {
        CapacityParams {
            family: "erdos-renyi".into(),
            n_values: vec![8, 16],
            dims: vec![2, 4, 8, 12],
            seeds: 2,
            tasks_per_seed: 8,
            temperatures: vec![],
            eps_scales: vec![],
            base_seed: seed,
        }
    } else {
        CapacityParams {
            family: "erdos-renyi".into(),
            n_values: vec![12, 24, 48],
            dims: vec![2, 4, 8, 12, 16, 24, 32, 48],
            seeds: 3,
            tasks_per_seed: 40,
            temperatures: vec![0.25, 4.0],
            eps_scales: vec![0.25, 4.0],
            base_seed: seed,
        }
    }
}

table_row! {
    impl Row for CapacityRow {
        family => ("", "graph family"),
        n => ("nodes", "graph size (node vocabulary of the construction)"),
        d => ("dimensions", "width of the node embeddings"),
        embedding => ("", "orthonormal (the theorem, d = n) or random unit vectors"),
        temperature_scale => ("×", "multiplier of every attention scale (1 = nominal)"),
        eps_scale => ("×", "multiplier of the MLP threshold (1 = nominal)"),
        eps => ("", "threshold used"),
        tasks => ("tasks", "tasks in the cell (all seeds)"),
        accuracy => ("fraction", "answers equal to the label"),
        candidate_accuracy => (
            "fraction",
            "two-choice reading (larger logit of the two candidates)"
        ),
        set_exact_rate => (
            "fraction",
            "thoughts whose decoded node set equals the exact R_c"
        ),
        mean_err => (
            "",
            "mean max-abs error of a thought against the normalised superposition of R_c"
        ),
        max_err => ("", "largest such error"),
        mean_reached => ("nodes", "mean |R_c| over thoughts"),
    }
}

table_row! {
    impl Row for SizeRow {
        n => ("nodes", "graph size"),
        d => ("dimensions", "embedding width"),
        embedding => ("", "orthonormal or random"),
        reached => ("nodes", "|R_c|: nodes superposed in the thought"),
        thoughts => ("thoughts", "thoughts with this reached-set size"),
        set_exact_rate => ("fraction", "decoded set equals R_c"),
        mean_err => ("", "mean max-abs thought error"),
        max_err => ("", "largest thought error"),
    }
}

/// The columns of the `results` table (one row per cell of the sweep).
pub const COLUMNS: &[(&str, &str, &str)] = CapacityRow::COLUMNS;
/// The columns of the `by_reached_size` table.
pub const SIZE_COLUMNS: &[(&str, &str, &str)] = SizeRow::COLUMNS;

fn tables(rep: &CapacityReport) -> Result<(Table, Table), LabError> {
    let mut t = Table::of::<CapacityRow>("results");
    for r in &rep.rows {
        t.push_row(r)?;
    }
    let mut s = Table::of::<SizeRow>("by_reached_size");
    for r in &rep.by_size {
        s.push_row(r)?;
    }
    Ok((t, s))
}

fn nominal(r: &CapacityRow) -> bool {
    r.temperature_scale == 1.0 && r.eps_scale == 1.0
}

pub fn run(opts: &RunOptions) -> Result<ExperimentResult, LabError> {
    let p = params(opts.quick, opts.seed);
    let pb = progress_bar(1, "reach-capacity", opts.progress);
    let rep = match capacity_study(&p, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    }) {
        Ok(r) => r,
        Err(e) => {
            pb.finish_and_clear();
            return Ok(ExperimentResult::not_available(
                ExperimentId::ReachCapacity,
                opts.quick,
                format!("the construct crate's capacity study failed: {e}"),
            ));
        }
    };
    pb.finish_and_clear();
    let (table, sizes) = tables(&rep)?;
    let grid = Grid::of(&rep);
    let plots = plots(&grid)?;
    let (interpretation, summary) = interpret(&grid, &rep);
    Ok(ExperimentResult {
        id: ExperimentId::ReachCapacity,
        status: Status::Ok,
        quick: opts.quick,
        params: serde_json::to_value(&p).unwrap_or_default(),
        table,
        extra_tables: vec![sizes],
        plots,
        interpretation,
        summary,
        elapsed_s: 0.0,
        terminal_columns: vec![
            "n",
            "d",
            "embedding",
            "temperature_scale",
            "eps_scale",
            "tasks",
            "accuracy",
            "candidate_accuracy",
            "set_exact_rate",
            "mean_err",
            "mean_reached",
        ],
    })
}

/// The study's nominal cells laid out as the plots read them: graph sizes by random
/// embedding widths (orthonormal beside them), and the reached-set sizes of the largest n.
struct Grid<'a> {
    /// Rows at nominal temperature and threshold.
    nom: Vec<&'a CapacityRow>,
    /// The graph sizes n, ascending.
    ns: Vec<usize>,
    /// The random embedding widths d, ascending.
    ds: Vec<usize>,
    /// The largest n (0 without rows).
    n_big: usize,
    /// By-reached-size rows of `n_big` with random embeddings.
    sz: Vec<&'a SizeRow>,
    /// By-reached-size rows of `n_big` with orthonormal embeddings.
    orth: Vec<&'a SizeRow>,
    /// The reached-set sizes of `sz`, ascending.
    reached: Vec<usize>,
}

impl<'a> Grid<'a> {
    fn of(rep: &'a CapacityReport) -> Self {
        let nom: Vec<_> = rep.rows.iter().filter(|r| nominal(r)).collect();
        let mut ns: Vec<usize> = nom.iter().map(|r| r.n).collect();
        ns.sort();
        ns.dedup();
        let mut ds: Vec<usize> = nom
            .iter()
            .filter(|r| r.embedding == "random")
            .map(|r| r.d)
            .collect();
        ds.sort();
        ds.dedup();
        let n_big = ns.last().copied().unwrap_or(0);
        let sz: Vec<_> = rep
            .by_size
            .iter()
            .filter(|r| r.n == n_big && r.embedding == "random")
            .collect();
        let orth: Vec<_> = rep
            .by_size
            .iter()
            .filter(|r| r.n == n_big && r.embedding == "orthonormal")
            .collect();
        let mut reached: Vec<usize> = sz.iter().map(|r| r.reached).collect();
        reached.sort();
        reached.dedup();
        Grid {
            nom,
            ns,
            ds,
            n_big,
            sz,
            orth,
            reached,
        }
    }

    /// The nominal accuracy at size n: random embeddings of width `Some(d)`, or orthonormal.
    fn cell(&self, n: usize, d: Option<usize>) -> Option<f64> {
        self.nom
            .iter()
            .find(|r| {
                r.n == n
                    && match d {
                        Some(d) => r.embedding == "random" && r.d == d,
                        None => r.embedding == "orthonormal",
                    }
            })
            .map(|r| r.accuracy)
    }

    /// The x ticks of the heat maps: every random width, then the orthonormal column.
    fn x_ticks(&self) -> Vec<String> {
        self.ds
            .iter()
            .map(|d| d.to_string())
            .chain(std::iter::once("orth. (d=n)".to_string()))
            .collect()
    }
}

/// Two heat maps (accuracy by n and d; exact decoding by reached-set size and d) and the
/// accuracy curves against d.
fn plots(g: &Grid) -> Result<Vec<Plot>, LabError> {
    let values: Vec<Vec<Option<f64>>> =
        g.ns.iter()
            .map(|&n| {
                g.ds.iter()
                    .map(|&d| g.cell(n, Some(d)))
                    .chain(std::iter::once(g.cell(n, None)))
                    .collect()
            })
            .collect();
    let acc_map = Heatmap {
        title: "Answer accuracy".into(),
        x_label: "embedding width d [dimensions]".into(),
        x_ticks: g.x_ticks(),
        y_label: "graph size n [nodes]".into(),
        y_ticks: g.ns.iter().map(|n| n.to_string()).collect(),
        values,
        value_label: "accuracy, red 0 → green 1".into(),
    };
    let n_big = g.n_big;
    let exact_map = Heatmap {
        title: format!("Thoughts decoded exactly (n = {n_big})"),
        x_label: "embedding width d [dimensions]".into(),
        x_ticks: g.x_ticks(),
        y_label: "reached-set size |R_c| [nodes]".into(),
        y_ticks: g.reached.iter().map(|r| r.to_string()).collect(),
        values: g
            .reached
            .iter()
            .map(|&k| {
                g.ds.iter()
                    .map(|&d| {
                        g.sz.iter()
                            .find(|r| r.reached == k && r.d == d)
                            .map(|r| r.set_exact_rate)
                    })
                    .chain(std::iter::once(
                        g.orth
                            .iter()
                            .find(|r| r.reached == k)
                            .map(|r| r.set_exact_rate),
                    ))
                    .collect()
            })
            .collect(),
        value_label: "share of thoughts, red 0 → green 1".into(),
    };
    let curves = XyPlot {
        title: "Accuracy against embedding width".into(),
        x: Axis::log("embedding width d [dimensions]"),
        y: Axis::linear("answer accuracy [fraction]"),
        series: g
            .ns
            .iter()
            .map(|&n| {
                Series::new(
                    &format!("n = {n} (random unit embeddings)"),
                    g.ds.iter()
                        .filter_map(|&d| Some((d as f64, g.cell(n, Some(d))?)))
                        .collect(),
                    true,
                )
            })
            .collect(),
        diagonal: false,
    };
    Ok(vec![
        Plot {
            file_name: "accuracy-heatmap.svg".into(),
            caption: "Answer accuracy of the construction by graph size n and embedding width d (nominal temperature and threshold; last column: orthonormal embeddings, the theorem's setting)".into(),
            svg: heatmap(&acc_map)?,
        },
        Plot {
            file_name: "reached-heatmap.svg".into(),
            caption: format!("Share of thoughts decoded to exactly R_c, by reached-set size and embedding width (n = {n_big}; last column: orthonormal embeddings)"),
            svg: heatmap(&exact_map)?,
        },
        Plot {
            file_name: "accuracy-vs-d.svg".into(),
            caption: "Answer accuracy against embedding width d, one line per graph size".into(),
            svg: xy_plot(&curves)?,
        },
    ])
}

/// The interpretation paragraphs and the summary numbers.
fn interpret(g: &Grid, rep: &CapacityReport) -> (Vec<String>, serde_json::Map<String, Value>) {
    let mut out = Vec::new();
    let mut sum = serde_json::Map::new();
    let orth_min = g
        .nom
        .iter()
        .filter(|r| r.embedding == "orthonormal")
        .map(|r| r.accuracy)
        .fold(1.0f64, f64::min);
    sum.insert("orthonormal_min_accuracy".into(), json!(orth_min));
    out.push(format!(
        "With orthonormal embeddings (d = n, the theorem's setting) the lowest accuracy over all \
         n is {}.",
        fmt_sig(orth_min)
    ));
    for &n in &g.ns {
        out.push(interpret_size(g, n, &mut sum));
    }
    out.extend(interpret_reached(g));
    let worst = rep
        .rows
        .iter()
        .filter(|r| !nominal(r) && r.embedding == "orthonormal")
        .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
    if let Some(w) = worst {
        out.push(format!(
            "Perturbations with orthonormal embeddings: the worst cell is temperature × {}, \
             threshold × {} at n = {} with accuracy {}.",
            fmt_sig(w.temperature_scale),
            fmt_sig(w.eps_scale),
            w.n,
            fmt_sig(w.accuracy)
        ));
    }
    (out, sum)
}

/// One graph size: the first width with accuracy 1, the lowest accuracy, and the
/// two-candidate reading at the widest random embedding.
fn interpret_size(g: &Grid, n: usize, sum: &mut serde_json::Map<String, Value>) -> String {
    let row: Vec<(usize, f64)> =
        g.ds.iter()
            .filter_map(|&d| Some((d, g.cell(n, Some(d))?)))
            .collect();
    let first_perfect = row.iter().find(|(_, a)| *a >= 1.0).map(|(d, _)| *d);
    let worst = row.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
    let mut s = format!("n = {n}: ");
    match first_perfect {
        Some(d) => s.push_str(&format!(
            "random embeddings first reach accuracy 1 at d = {d} ({}% of n)",
            fmt_sig(100.0 * d as f64 / n as f64)
        )),
        None => s.push_str("random embeddings never reach accuracy 1 in the sweep"),
    }
    if let Some((d, a)) = worst {
        s.push_str(&format!(
            "; the lowest accuracy is {} at d = {d}",
            fmt_sig(a)
        ));
    }
    // the two-choice reading at the widest random embedding, against chance (0.5)
    if let Some(r) = g
        .nom
        .iter()
        .filter(|r| r.n == n && r.embedding == "random")
        .max_by_key(|r| r.d)
    {
        s.push_str(&format!(
            "; at d = {} the two-candidate reading is right on {}% of tasks (chance: 50%)",
            r.d,
            fmt_sig(100.0 * r.candidate_accuracy)
        ));
    }
    s.push('.');
    sum.insert(format!("n{n}_first_perfect_d"), json!(first_perfect));
    s
}

/// Exactness against reached size: small and large reached sets at the smallest width.
fn interpret_reached(g: &Grid) -> Option<String> {
    let (d0, rmin, rmax) = (*g.ds.first()?, *g.reached.first()?, *g.reached.last()?);
    let at = |k: usize| {
        g.sz.iter()
            .find(|r| r.reached == k && r.d == d0)
            .map(|r| r.set_exact_rate)
    };
    let (a, b) = (at(rmin)?, at(rmax)?);
    Some(format!(
        "At d = {d0} (n = {}), thoughts superposing {rmin} node(s) decode exactly in \
         {}% of cases and thoughts superposing {rmax} nodes in {}%{}.",
        g.n_big,
        fmt_sig(100.0 * a),
        fmt_sig(100.0 * b),
        if b < a {
            ": the more nodes a thought superposes, the less room each one has"
        } else {
            ""
        }
    ))
}
