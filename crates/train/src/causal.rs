//! Causal tests of the thoughts: does the answer *use* them? A probe that shows the frontier in
//! a thought is not evidence that the answer reads it (the thoughts can hold the frontier while
//! the answer comes from a question-only heuristic), so the evaluation also intervenes on the
//! thoughts and measures the answer again, on the same prompts:
//!
//! - `zeroed`: every thought replaced by the zero vector;
//! - `shuffled`: each example receives another example's thoughts (same batch, next row);
//! - `mean`: every thought replaced by the batch mean of the thoughts at that step (what is
//!   left when the thought carries nothing specific to the example);
//! - `truncated-t`: only `t` thought slots (t = 0 … T−1) before `<eot>`;
//! - `transplant-edge-removed`: the thoughts computed on the same graph with one edge of the
//!   gold path removed (one whose removal cuts the target off, where there is one), fed into
//!   the original prompt.
//!
//! Continuous modes run all of them; pause runs the truncations (its slots hold no vectors to
//! intervene on); no-CoT and CoT run none. Each test reports exact and two-way accuracy.

use burn::tensor::Device;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use superpose_model::Model;

use crate::data::ReachExample;
use crate::eval::{run_batch, Accuracy, EvalOptions, ModelMeta, RunSpec};
use crate::multipass::ThoughtFeed;

/// The result of one causal test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CausalTest {
    /// `zeroed`, `shuffled`, `mean`, `truncated-<t>` or `transplant-edge-removed`.
    pub test: String,
    /// What was done, in words (with counts where they matter).
    pub description: String,
    /// Thought slots fed before `<eot>`.
    pub thoughts: usize,
    pub tasks: usize,
    /// Exact answers (the reachable candidate after `[A]`).
    pub correct: usize,
    pub accuracy: f64,
    /// Two-way choice between the candidates at the answer position (chance 50%).
    pub choice_accuracy: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Zeroed,
    Shuffled,
    Mean,
    Truncated(usize),
    Transplant,
}

impl Kind {
    fn name(self) -> String {
        match self {
            Kind::Zeroed => "zeroed".into(),
            Kind::Shuffled => "shuffled".into(),
            Kind::Mean => "mean".into(),
            Kind::Truncated(t) => format!("truncated-{t}"),
            Kind::Transplant => "transplant-edge-removed".into(),
        }
    }
}

#[derive(Default)]
struct Tally {
    tasks: usize,
    correct: usize,
    choice: usize,
}

/// The causal tests of one evaluation, accumulated batch by batch.
pub(crate) struct Tests {
    kinds: Vec<Kind>,
    tallies: Vec<Tally>,
    thoughts: usize,
    /// Transplant: examples whose edited graph no longer reaches the target.
    cut: usize,
}

impl Tests {
    /// The tests that apply to `meta`'s mode (none when `enabled` is false).
    pub(crate) fn new(meta: &ModelMeta, enabled: bool) -> Self {
        let t = meta.thoughts;
        let mut kinds = Vec::new();
        if enabled && t > 0 && meta.mode.curriculum() {
            if meta.mode.continuous() {
                kinds.extend([Kind::Zeroed, Kind::Shuffled, Kind::Mean]);
            }
            kinds.extend((0..t).map(Kind::Truncated));
            if meta.mode.continuous() {
                kinds.push(Kind::Transplant);
            }
        }
        let tallies = kinds.iter().map(|_| Tally::default()).collect();
        Tests {
            kinds,
            tallies,
            thoughts: t,
            cut: 0,
        }
    }

    /// Run every test on one batch; `rng` is the prompt generator's state before the plain
    /// run, so each test sees the same prompts.
    pub(crate) fn run_batch(
        &mut self,
        model: &Model,
        exs: &[&ReachExample],
        meta: &ModelMeta,
        opts: &EvalOptions,
        rng: &ChaCha8Rng,
        device: &Device,
    ) {
        for (kind, tally) in self.kinds.iter().zip(self.tallies.iter_mut()) {
            let feed = match *kind {
                Kind::Zeroed => ThoughtFeed::Zero,
                Kind::Shuffled => {
                    ThoughtFeed::Shuffle((0..exs.len()).map(|r| (r + 1) % exs.len()).collect())
                }
                Kind::Mean => ThoughtFeed::Mean,
                Kind::Truncated(_) => ThoughtFeed::Hidden,
                Kind::Transplant => {
                    let edited: Vec<ReachExample> = exs
                        .iter()
                        .map(|ex| {
                            let (e, cut) = without_path_edge(ex);
                            self.cut += cut as usize;
                            e
                        })
                        .collect();
                    let refs: Vec<&ReachExample> = edited.iter().collect();
                    let spec = RunSpec {
                        feed: &ThoughtFeed::Hidden,
                        thoughts: self.thoughts,
                    };
                    let mut r = rng.clone();
                    let res = run_batch(model, &refs, meta, spec, opts, &mut r, None, device);
                    ThoughtFeed::Given(res.thoughts)
                }
            };
            let thoughts = match *kind {
                Kind::Truncated(t) => t,
                _ => self.thoughts,
            };
            let spec = RunSpec {
                feed: &feed,
                thoughts,
            };
            let mut r = rng.clone();
            let res = run_batch(model, exs, meta, spec, opts, &mut r, None, device);
            for ((ex, ans), choice) in exs.iter().zip(&res.answers).zip(&res.choices) {
                tally.tasks += 1;
                tally.correct += (*ans == Some(ex.target)) as usize;
                tally.choice += (*choice == Some(true)) as usize;
            }
        }
    }

    /// The results, in test order.
    pub(crate) fn finish(self) -> Vec<CausalTest> {
        let cut = self.cut;
        self.kinds
            .iter()
            .zip(self.tallies)
            .map(|(&kind, t)| {
                let thoughts = match kind {
                    Kind::Truncated(k) => k,
                    _ => self.thoughts,
                };
                let n = t.tasks.max(1) as f64;
                CausalTest {
                    test: kind.name(),
                    description: describe(kind, cut, t.tasks),
                    thoughts,
                    tasks: t.tasks,
                    correct: t.correct,
                    accuracy: t.correct as f64 / n,
                    choice_accuracy: t.choice as f64 / n,
                }
            })
            .collect()
    }
}

fn describe(kind: Kind, cut: usize, tasks: usize) -> String {
    match kind {
        Kind::Zeroed => "every thought replaced by zeros".into(),
        Kind::Shuffled => "each example gets another example's thoughts".into(),
        Kind::Mean => "every thought replaced by the batch mean at its step".into(),
        Kind::Truncated(t) => format!("only the first {t} thought slots"),
        Kind::Transplant => format!(
            "thoughts of the same graph with one gold-path edge removed (target cut off in {cut} of {tasks})"
        ),
    }
}

/// `ex` with one edge of its gold path removed: the first edge, from the target backwards,
/// whose removal makes the target unreachable; the last edge of the path when no single edge
/// does. Returns the edited example (its distances are those of the original: only the prompt
/// is used) and whether the target was cut off.
fn without_path_edge(ex: &ReachExample) -> (ReachExample, bool) {
    let path_edges: Vec<(u32, u32)> = ex.path.windows(2).map(|w| (w[0], w[1])).collect();
    let mut chosen = *path_edges
        .last()
        .expect("a gold path has at least one edge");
    let mut cut = false;
    for &e in path_edges.iter().rev() {
        if !reaches(ex, e) {
            chosen = e;
            cut = true;
            break;
        }
    }
    let mut edited = ex.clone();
    edited.edges.retain(|&e| e != chosen);
    (edited, cut)
}

/// Does the root still reach the target without edge `skip`?
fn reaches(ex: &ReachExample, skip: (u32, u32)) -> bool {
    let mut seen = vec![false; ex.n_nodes as usize];
    let mut stack = vec![ex.root];
    seen[ex.root as usize] = true;
    while let Some(u) = stack.pop() {
        if u == ex.target {
            return true;
        }
        for &(s, t) in &ex.edges {
            if s == u && (s, t) != skip && !seen[t as usize] {
                seen[t as usize] = true;
                stack.push(t);
            }
        }
    }
    false
}

/// The accuracy of test `name`, if it ran.
pub(crate) fn find(tests: &[CausalTest], name: &str) -> Option<Accuracy> {
    tests.iter().find(|t| t.test == name).map(|t| Accuracy {
        tasks: t.tasks,
        correct: t.correct,
        accuracy: t.accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_edge_that_cuts_the_target_off() {
        // 0 -> 1 -> 3 -> 4 ; 0 -> 2 -> 3 ; 5 -> 6 ; 2 -> 7: only 3 -> 4 cuts 4 off.
        let edges = vec![(0, 1), (1, 3), (3, 4), (0, 2), (2, 3), (5, 6), (2, 7)];
        let ex = ReachExample::new(8, edges, 0, 4, 6, None).unwrap();
        let (e, cut) = without_path_edge(&ex);
        assert!(cut);
        assert_eq!(e.edges.len(), 6);
        assert!(!e.edges.contains(&(3, 4)));
        // Two disjoint paths 0-1-3 and 0-2-3: no single edge cuts 3 off; the last is removed.
        let edges = vec![(0, 1), (1, 3), (0, 2), (2, 3), (4, 5)];
        let ex = ReachExample::new(6, edges, 0, 3, 5, None).unwrap();
        let (e, cut) = without_path_edge(&ex);
        assert!(!cut);
        assert_eq!(e.edges.len(), 4);
        assert!(!e.edges.contains(&(ex.path[1], 3)));
    }
}
