//! Capacity study: where superposition runs out of room.
//!
//! The theorem uses orthonormal node embeddings (d ≥ n). Here node embeddings are seeded
//! random unit vectors in d dimensions, d < n, so ⟨u_v, u_w⟩ ≠ 0 and every thought carries
//! cross-talk of order √(|R_c|/d)/√|R_c| per coefficient; the threshold MLP (Lemma 2) and
//! the BFS head's match scores both see it. We measure answer accuracy, thought error and
//! exact decoding of R_c against n, d and |R_c|, and perturb the attention temperature
//! (every ξ scaled) and the MLP threshold ε.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use superpose_graph::generate::{generate, Family, ProsqaParams};
use superpose_graph::solve::eccentricity;
use superpose_graph::ReachTask;

use crate::layout::NodeEmbedding;
use crate::run::Thoughts;
use crate::weights::ConstructOptions;
use crate::{ConstructError, Construction};

/// What to sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityParams {
    /// Graph family: "prosqa" (Coconut Algorithm 1 with N = n), "erdos-renyi" (p = 2/n) or
    /// "chain".
    pub family: String,
    /// Graph sizes n (the node vocabulary of the construction is n).
    pub n_values: Vec<usize>,
    /// Dimensions d of the random unit node embeddings (an orthonormal row, d = n, is
    /// always added per n as the baseline).
    pub dims: Vec<usize>,
    /// Seeds 0..seeds: each seed draws its own graphs and its own embeddings.
    pub seeds: usize,
    /// Tasks per (n, seed).
    pub tasks_per_seed: usize,
    /// Attention temperature perturbations (multipliers of every ξ; 1 = nominal).
    pub temperatures: Vec<f64>,
    /// Threshold perturbations (multipliers of the nominal ε).
    pub eps_scales: Vec<f64>,
    /// Added to every seed.
    pub base_seed: u64,
}

impl Default for CapacityParams {
    fn default() -> Self {
        CapacityParams {
            family: "prosqa".into(),
            n_values: vec![8, 16],
            dims: vec![4, 16, 64, 256, 512],
            seeds: 3,
            tasks_per_seed: 20,
            temperatures: vec![0.1, 0.25],
            eps_scales: vec![0.5, 2.0],
            base_seed: 0,
        }
    }
}

/// One cell of the sweep (aggregated over seeds and tasks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityRow {
    pub family: String,
    pub n: usize,
    pub d: usize,
    /// "orthonormal" or "random".
    pub embedding: String,
    pub temperature_scale: f64,
    /// Multiplier of the nominal threshold (orthonormal: 1/(4n); random: see
    /// `weights::Weights::build`).
    pub eps_scale: f64,
    /// The threshold ε used (first seed).
    pub eps: f64,
    pub tasks: usize,
    pub accuracy: f64,
    /// Accuracy of the two-choice reading (larger logit of c1, c2).
    pub candidate_accuracy: f64,
    /// Thoughts whose decoded set equals R_c.
    pub set_exact_rate: f64,
    pub mean_err: f64,
    pub max_err: f64,
    /// Mean |R_c| over all thoughts.
    pub mean_reached: f64,
}

/// Thought quality by reached-set size (nominal temperature and threshold only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeRow {
    pub n: usize,
    pub d: usize,
    pub embedding: String,
    /// |R_c|.
    pub reached: usize,
    pub thoughts: usize,
    pub set_exact_rate: f64,
    pub mean_err: f64,
    pub max_err: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    pub params: CapacityParams,
    pub rows: Vec<CapacityRow>,
    pub by_size: Vec<SizeRow>,
}

fn family_for(name: &str, n: usize) -> Result<Family, ConstructError> {
    Ok(match name {
        "prosqa" => Family::Prosqa(ProsqaParams {
            min_nodes: n,
            max_nodes: n,
            min_hops: 1,
            ..ProsqaParams::default()
        }),
        "erdos-renyi" | "er" => Family::ErdosRenyi {
            n,
            p: 2.0 / n as f64,
        },
        "chain" => Family::Chain { n: n - 1 },
        other => {
            return Err(ConstructError::Config(format!(
                "capacity family must be prosqa, erdos-renyi or chain (got `{other}`)"
            )))
        }
    })
}

#[derive(Default)]
struct Acc {
    tasks: usize,
    correct: usize,
    cand: usize,
    thoughts: usize,
    exact: usize,
    err_sum: f64,
    err_max: f64,
    reached_sum: usize,
}

impl Acc {
    fn add(&mut self, r: &crate::ConstructRun) {
        let th = &r.thoughts;
        self.tasks += 1;
        self.correct += r.correct as usize;
        self.cand += r.candidate_correct as usize;
        for t in th {
            self.add_thought(t);
        }
    }
    fn add_thought(&mut self, t: &crate::ThoughtRecord) {
        self.thoughts += 1;
        self.exact += t.set_exact as usize;
        let e = if t.max_err.is_finite() {
            t.max_err as f64
        } else {
            f64::INFINITY
        };
        self.err_sum += e;
        self.err_max = self.err_max.max(e);
        self.reached_sum += t.exact.len();
    }
    /// Mean max-abs thought error.
    fn mean_err(&self) -> f64 {
        self.err_sum / self.thoughts.max(1) as f64
    }
    fn rate(a: usize, b: usize) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }
}

/// Runs the sweep. `progress(done, total)` is called after every (cell, seed).
pub fn capacity_study(
    p: &CapacityParams,
    mut progress: impl FnMut(usize, usize),
) -> Result<CapacityReport, ConstructError> {
    let max = crate::layout::MAX_NODES;
    if let Some(n) = p.n_values.iter().chain(&p.dims).find(|&&n| n > max) {
        return Err(ConstructError::TooLarge(format!(
            "n or d = {n} is above the limit of {max} nodes and dimensions"
        )));
    }
    let mut rows = Vec::new();
    let mut by_size: BTreeMap<(usize, usize, String, usize), Acc> = BTreeMap::new();
    let perturb = perturbations(p);
    let cells_per_n = (1 + p.dims.len()) * perturb.len();
    let total = p.n_values.len() * cells_per_n * p.seeds;
    let mut done = 0;
    for &n in &p.n_values {
        let tasks = seed_tasks(p, n)?;
        let m_max = tasks
            .iter()
            .flatten()
            .map(|t| t.graph.num_edges())
            .max()
            .unwrap_or(1);
        let max_thoughts = tasks
            .iter()
            .flatten()
            .map(|t| eccentricity(&t.graph, t.root).value.max(1))
            .max()
            .unwrap_or(1);
        let mut embeddings: Vec<(String, usize)> = vec![("orthonormal".into(), n)];
        embeddings.extend(p.dims.iter().map(|&d| ("random".to_string(), d)));
        for (label, d) in &embeddings {
            for &(temp, eps_mul) in &perturb {
                let eps_scale = eps_mul;
                let mut acc = Acc::default();
                let mut eps = 0.0;
                for (s, seed_tasks) in tasks.iter().enumerate() {
                    let embedding = if label == "random" {
                        NodeEmbedding::RandomUnit {
                            dim: *d,
                            seed: p.base_seed + 1000 + s as u64,
                        }
                    } else {
                        NodeEmbedding::Orthonormal
                    };
                    let opts = ConstructOptions {
                        m_max,
                        max_thoughts,
                        embedding,
                        temperature_scale: temp,
                        eps_scale,
                        ..ConstructOptions::default()
                    };
                    let con = Construction::new(n, opts)?;
                    if s == 0 {
                        eps = con.weights().constants.eps;
                    }
                    for task in seed_tasks {
                        let r = con.run_task(task, Thoughts::Eccentricity)?;
                        acc.add(&r);
                        if temp == 1.0 && eps_mul == 1.0 {
                            for t in &r.thoughts {
                                by_size
                                    .entry((n, *d, label.clone(), t.exact.len()))
                                    .or_default()
                                    .add_thought(t);
                            }
                        }
                    }
                    done += 1;
                    progress(done, total);
                }
                rows.push(CapacityRow {
                    family: p.family.clone(),
                    n,
                    d: *d,
                    embedding: label.clone(),
                    temperature_scale: temp,
                    eps_scale,
                    eps,
                    tasks: acc.tasks,
                    accuracy: Acc::rate(acc.correct, acc.tasks),
                    candidate_accuracy: Acc::rate(acc.cand, acc.tasks),
                    set_exact_rate: Acc::rate(acc.exact, acc.thoughts),
                    mean_err: acc.mean_err(),
                    max_err: acc.err_max,
                    mean_reached: acc.reached_sum as f64 / acc.thoughts.max(1) as f64,
                });
            }
        }
    }
    Ok(CapacityReport {
        params: p.clone(),
        rows,
        by_size: size_rows(by_size),
    })
}

/// (temperature scale, eps multiplier relative to the nominal ε) of every cell: nominal
/// first, then each temperature, then each threshold scale (1 skipped, it is nominal).
fn perturbations(p: &CapacityParams) -> Vec<(f64, f64)> {
    let mut perturb = vec![(1.0, 1.0)];
    perturb.extend(
        p.temperatures
            .iter()
            .filter(|&&t| t != 1.0)
            .map(|&t| (t, 1.0)),
    );
    perturb.extend(
        p.eps_scales
            .iter()
            .filter(|&&e| e != 1.0)
            .map(|&e| (1.0, e)),
    );
    perturb
}

/// The tasks of graph size n, one list per seed, generated once and shared by every cell.
fn seed_tasks(p: &CapacityParams, n: usize) -> Result<Vec<Vec<ReachTask>>, ConstructError> {
    let fam = family_for(&p.family, n)?;
    (0..p.seeds)
        .map(|s| {
            generate(&fam, p.tasks_per_seed, p.base_seed + s as u64, None)
                .map_err(|e| ConstructError::Generate(e.to_string()))
        })
        .collect()
}

/// The by-reached-size rows, in key order (n, d, embedding, reached).
fn size_rows(by_size: BTreeMap<(usize, usize, String, usize), Acc>) -> Vec<SizeRow> {
    by_size
        .into_iter()
        .map(|((n, d, embedding, reached), a)| SizeRow {
            n,
            d,
            embedding,
            reached,
            thoughts: a.thoughts,
            set_exact_rate: Acc::rate(a.exact, a.thoughts),
            mean_err: a.mean_err(),
            max_err: a.err_max,
        })
        .collect()
}

impl CapacityReport {
    /// The sweep as CSV (one line per cell).
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "family,n,d,embedding,temperature_scale,eps_scale,eps,tasks,accuracy,candidate_accuracy,set_exact_rate,mean_err,max_err,mean_reached\n",
        );
        for r in &self.rows {
            s += &format!(
                "{},{},{},{},{},{},{:.5},{},{:.4},{:.4},{:.4},{:.6},{:.6},{:.3}\n",
                r.family,
                r.n,
                r.d,
                r.embedding,
                r.temperature_scale,
                r.eps_scale,
                r.eps,
                r.tasks,
                r.accuracy,
                r.candidate_accuracy,
                r.set_exact_rate,
                r.mean_err,
                r.max_err,
                r.mean_reached
            );
        }
        s
    }

    /// Thought quality by |R_c| as CSV.
    pub fn size_csv(&self) -> String {
        let mut s =
            String::from("n,d,embedding,reached,thoughts,set_exact_rate,mean_err,max_err\n");
        for r in &self.by_size {
            s += &format!(
                "{},{},{},{},{},{:.4},{:.6},{:.6}\n",
                r.n,
                r.d,
                r.embedding,
                r.reached,
                r.thoughts,
                r.set_exact_rate,
                r.mean_err,
                r.max_err
            );
        }
        s
    }
}
