//! The continuous-thought loop (Zhu et al. §4: [t_0] = u_r, [t_{c+1}] = TF([prompt, t_1..t_c]))
//! and its comparison with exact BFS (graph crate): thought c against the normalised sum of
//! the embeddings of R_c, the answer at `<A>`, and the cost of every step.

use serde::{Deserialize, Serialize};
use superpose_graph::solve::{eccentricity, reach_sets};
use superpose_graph::ReachTask;

use crate::cost::{prefill_macs, readout_macs, step_macs};
use crate::layout::{prompt_tokens, Question, S_ANSWER};
use crate::weights::Weights;
use crate::ConstructError;

/// What the forward pass must offer the thought loop (the `model` runtime with its KV cache;
/// tests also plug in an independent reference pass).
pub(crate) trait Engine {
    /// Runs the prompt; returns the final hidden state at its last position.
    fn prefill(&mut self, ids: &[u32]) -> Result<Vec<f32>, ConstructError>;
    /// Appends one continuous thought; returns the hidden state at its position.
    fn latent(&mut self, thought: &[f32]) -> Result<Vec<f32>, ConstructError>;
    /// Appends one token; returns the logits at its position.
    fn token_logits(&mut self, id: u32) -> Result<Vec<f32>, ConstructError>;
}

/// One continuous thought compared with exact BFS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThoughtRecord {
    /// c (thought [t_c], 1-based; [t_0] is the root token).
    pub step: usize,
    /// Nodes v with ⟨u_v, [t_c]⟩ ≥ 1/(2√n_max) (the set the thought encodes).
    pub decoded: Vec<usize>,
    /// R_c, the nodes exact BFS reaches in ≤ c hops.
    pub exact: Vec<usize>,
    /// decoded == exact.
    pub set_exact: bool,
    /// max_i |[t_c]_i − (Σ_{v∈R_c} u_v / √|R_c|)_i| over all d_model coordinates.
    pub max_err: f32,
    /// Multiply-adds of the forward step that produced [t_c] (both layers, KV cache).
    pub macs: u64,
    /// Positions that step attended over (prompt + earlier thoughts).
    pub context: usize,
    /// Edges exact layer-synchronous BFS inspects to go from R_{c−1} to R_c
    /// (out-edges of the frontier F_{c−1}).
    pub bfs_edge_visits: u64,
}

/// One task run through the construction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConstructRun {
    /// Greedy answer at `<A>`: the token id with the largest logit (a node id when < n_max).
    pub answer: usize,
    /// answer == target and its logit beats every other one (a tie is no answer).
    pub correct: bool,
    /// The candidate (c1 or c2) with the larger logit: the two-choice reading of `<A>`.
    pub candidate_answer: usize,
    pub candidate_correct: bool,
    pub target: usize,
    pub distractor: usize,
    /// Hops from root to target (steps BFS needs).
    pub hops: usize,
    /// Number of continuous thoughts C used.
    pub num_thoughts: usize,
    /// C ≥ hops (the theorem's condition for this question).
    pub sufficient: bool,
    /// Number of nodes and edges of the graph.
    pub n: usize,
    pub m: usize,
    pub thoughts: Vec<ThoughtRecord>,
    /// max over thoughts of `max_err`.
    pub max_err: f32,
    /// Margin of the answer: its logit minus the best other logit.
    pub margin: f32,
    /// Multiply-adds: prompt prefill (all positions before the root), the C thought steps
    /// (step 1 runs at the root position), feeding [t_C] plus the `<A>` step and readout.
    pub prefill_macs: u64,
    pub thought_macs: u64,
    pub answer_macs: u64,
    /// Σ BFS edge visits over the C steps.
    pub bfs_edge_visits: u64,
}

/// Logit differences at or below this count as ties (f32 rounding is ~1e-7).
const TIE: f32 = 1e-4;

/// How many continuous thoughts to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Thoughts {
    /// Exactly this many.
    Fixed(usize),
    /// The root's eccentricity (BFS levels until R_c stops growing), at least 1: enough for
    /// every question about this root (Theorem 1 needs C ≥ the diameter in general).
    Eccentricity,
}

impl Question {
    /// The prompt question of a graph-crate task (candidates in the task's question order).
    pub fn from_task(task: &ReachTask) -> Question {
        Question {
            n: task.graph.n(),
            edges: task.graph.edges().to_vec(),
            root: task.root,
            candidates: task.candidates(),
        }
    }
}

/// Checks that a task fits the construction's vocabulary and context.
pub(crate) fn check_fits(w: &Weights, task: &ReachTask, c: usize) -> Result<(), ConstructError> {
    let (n, m) = (task.graph.n(), task.graph.num_edges());
    if n > w.layout.n_max {
        return Err(ConstructError::TooLarge(format!(
            "graph has {n} nodes, the construction was built for at most {}",
            w.layout.n_max
        )));
    }
    if m > w.constants.t_max.saturating_sub(7 + c) / 3 {
        return Err(ConstructError::TooLarge(format!(
            "graph has {m} edges; with {c} thoughts the context ({} positions) holds at most {}",
            w.constants.t_max,
            w.constants.t_max.saturating_sub(7 + c) / 3
        )));
    }
    if c == 0 {
        return Err(ConstructError::Config(
            "at least one continuous thought is needed".into(),
        ));
    }
    Ok(())
}

/// Number of thoughts for a task.
pub fn thoughts_for(task: &ReachTask, t: Thoughts) -> usize {
    match t {
        Thoughts::Fixed(c) => c,
        Thoughts::Eccentricity => eccentricity(&task.graph, task.root).value.max(1),
    }
}

/// Runs prompt, C thoughts and `<A>` through `engine` and scores everything against BFS.
pub(crate) fn run_with(
    engine: &mut impl Engine,
    w: &Weights,
    task: &ReachTask,
    c: usize,
) -> Result<ConstructRun, ConstructError> {
    check_fits(w, task, c)?;
    let l = &w.layout;
    let q = Question::from_task(task);
    let ids = prompt_tokens(l, &q);
    let rs = reach_sets(&task.graph, task.root, c);
    let dec_th = 0.5 / (l.n_max as f32).sqrt();

    // [t_1] comes out of the root position t0 (Zhu et al.: [t_0] = u_r).
    let mut thought = engine.prefill(&ids)?;
    let mut records = Vec::with_capacity(c);
    let mut thought_macs = 0;
    for step in 1..=c {
        let exact = rs.reach_list(step);
        let want = l.superposition(&exact);
        let max_err = thought
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, |a, b| {
                if b.is_nan() || a.is_nan() {
                    f32::NAN
                } else {
                    a.max(b)
                }
            });
        let coefs = l.node_coefficients(&thought);
        let decoded: Vec<usize> = (0..task.graph.n())
            .filter(|&v| coefs[v] >= dec_th)
            .collect();
        // The step that produced [t_c] ran at position t0 + c − 1.
        let context = ids.len() + step - 1;
        let macs = step_macs(w, context);
        thought_macs += macs;
        let bfs_edge_visits = rs.frontiers[step - 1]
            .iter()
            .map(|&u| task.graph.out(u).len() as u64)
            .sum();
        records.push(ThoughtRecord {
            step,
            set_exact: decoded == exact,
            decoded,
            exact,
            max_err,
            macs,
            context,
            bfs_edge_visits,
        });
        // Feed [t_c] back at position t0 + c (continuous thought: no sampling).
        let next = engine.latent(&thought)?;
        if step < c {
            thought = next;
        }
    }
    // The last latent step (feeding [t_C]) is part of the answer's cost.
    let answer_macs =
        step_macs(w, ids.len() + c) + step_macs(w, ids.len() + c + 1) + readout_macs(w);
    let logits = engine.token_logits(l.special_id(S_ANSWER))?;
    let (answer, best) =
        logits
            .iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv {
                    (i, v)
                } else {
                    (bi, bv)
                }
            });
    let second = logits
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != answer)
        .map(|(_, &v)| v)
        .fold(f32::NEG_INFINITY, f32::max);
    let [c1, c2] = q.candidates;
    let candidate_answer = if logits[c2] > logits[c1] { c2 } else { c1 };
    let hops = task.hops();
    let max_err = records.iter().map(|r| r.max_err).fold(0.0f32, f32::max);
    Ok(ConstructRun {
        answer,
        // A tie is no answer (with C < hops every node of R_C, u_<A>, c1 and c2 tie at 1).
        correct: answer == task.target && best - second > TIE,
        candidate_answer,
        candidate_correct: candidate_answer == task.target && (logits[c1] - logits[c2]).abs() > TIE,
        target: task.target,
        distractor: task.distractor,
        hops,
        num_thoughts: c,
        sufficient: c >= hops,
        n: task.graph.n(),
        m: task.graph.num_edges(),
        bfs_edge_visits: records.iter().map(|r| r.bfs_edge_visits).sum(),
        thoughts: records,
        max_err,
        margin: best - second,
        prefill_macs: prefill_macs(w, ids.len() - 1),
        thought_macs,
        answer_macs,
    })
}
