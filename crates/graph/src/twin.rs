//! The twin family: reachability tasks without root-agnostic shortcuts (issue 15).
//!
//! On ProsQA-style graphs (Coconut, Hao et al. 2024, App. A.2) a rule that never reads the
//! root, e.g. "pick the candidate farther from every in-degree-0 node", answers most questions,
//! so a model can score well without following edges from the root. A twin graph is built so
//! that every such rule ties:
//!
//! 1. one random layered DAG for the root's side: layer 0 = the root, layers 1..=h with
//!    `min_width..=max_width` nodes each (trimmed to fit `max_nodes`), every node with one or
//!    two parents in the previous layer (nodes that get no child are dead-end sinks); the
//!    target is a node of layer h, so it is a sink h hops from the root;
//! 2. an isomorphic mirror copy for the decoy root's side; the distractor is the target's
//!    mirror;
//! 3. cross edges in mirrored pairs `u → v'` and `u' → v` (u in layer i, v in layer i+1 of
//!    the root's side, primes = mirrors), only for nodes v that cannot reach the target, so the
//!    target's ancestors stay on the root's side and the distractor's on the decoy's side.
//!
//! Swapping the two sides is then an automorphism of the graph that swaps the target with the
//! distractor: in-degree, ancestor and descendant counts, distances from in-degree-0 nodes and
//! every other statistic that ignores which in-degree-0 node is the root are equal for the two
//! candidates. Only the root tells them apart. Node ids are a random permutation and edges
//! are shuffled, so neither id order nor edge order carries the answer.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::generate::HopRange;
use crate::Digraph;

/// Parameters of the twin family ([`crate::generate::Family::Twin`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TwinParams {
    /// Most nodes in a graph, both sides together; each side has at most `max_nodes / 2`
    /// nodes, so `hops + 1 <= max_nodes / 2` is required. Node ids are `< max_nodes` (the
    /// default 30 fits a model with 31 node tokens).
    pub max_nodes: usize,
    /// Fewest nodes drawn for each layer 1..=hops of one side (uniform in
    /// `min_width..=max_width`, then layers are thinned at random, never below one node, until
    /// the side fits in `max_nodes / 2`).
    pub min_width: usize,
    /// Most nodes drawn for each layer of one side.
    pub max_width: usize,
    /// Probability that a node has two parents in the previous layer instead of one.
    pub p_two_parents: f64,
    /// Probability of each eligible mirrored pair of cross edges (`u → v'` with `u' → v`,
    /// u in layer i, v in layer i+1 not an ancestor of the target).
    pub p_cross: f64,
    /// Hop range used when [`crate::generate::generate`] is given none: the target's depth is
    /// drawn uniformly in `min_hops..=max_hops` (a given `HopRange` replaces this range).
    pub min_hops: usize,
    /// Upper end of the default hop range (see `min_hops`).
    pub max_hops: usize,
}

impl Default for TwinParams {
    fn default() -> Self {
        TwinParams {
            max_nodes: 30,
            min_width: 2,
            max_width: 3,
            p_two_parents: 0.5,
            p_cross: 0.15,
            min_hops: 3,
            max_hops: 4,
        }
    }
}

impl TwinParams {
    /// The hop range a generation draws from: `hops` if given, else the parameters' range.
    pub fn hop_range(&self, hops: Option<HopRange>) -> HopRange {
        hops.unwrap_or(HopRange {
            min: self.min_hops,
            max: self.max_hops,
        })
    }

    /// Why these parameters (with this hop range) cannot generate, or `None` when they can.
    pub fn problem(&self, hops: Option<HopRange>) -> Option<String> {
        let prob = |p: f64| (0.0..=1.0).contains(&p);
        let range = self.hop_range(hops);
        if self.min_width < 1 || self.min_width > self.max_width {
            Some("need 1 <= min_width <= max_width".into())
        } else if !prob(self.p_two_parents) || !prob(self.p_cross) {
            Some("p_two_parents and p_cross must be in [0, 1]".into())
        } else if range.min < 1 || range.min > range.max {
            Some(format!("need 1 <= min hops <= max hops (got {range})"))
        } else if range.max + 1 > self.max_nodes / 2 {
            Some(format!(
                "{} hops need max_nodes >= {} (each side holds the root and one node per layer)",
                range.max,
                2 * (range.max + 1)
            ))
        } else {
            None
        }
    }
}

/// One twin graph: `(graph, root, target, distractor)` before relabelling, target depth drawn
/// uniformly from `hops`. Callers check [`TwinParams::problem`] first.
pub(crate) fn twin(
    p: &TwinParams,
    hops: HopRange,
    rng: &mut ChaCha8Rng,
) -> Option<(Digraph, usize, usize, usize)> {
    let h = rng.gen_range(hops.min..=hops.max);
    let layers = side_layers(p, h, rng)?;
    let side = layers.iter().map(Vec::len).sum::<usize>();
    // Tree edges of the root's side: every node of layer i+1 gets 1 or 2 parents in layer i.
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for pair in layers.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        for &v in cur {
            let k = if prev.len() >= 2 && rng.gen_bool(p.p_two_parents) {
                2
            } else {
                1
            };
            for &u in prev.choose_multiple(rng, k) {
                edges.push((u, v));
            }
        }
    }
    let target = *layers[h].choose(rng)?;
    let ancestor = ancestors(side, &edges, target);
    // Mirror copy: node x of the root's side has mirror x + side.
    let mut all: Vec<(usize, usize)> = edges.iter().map(|&(u, v)| (u + side, v + side)).collect();
    all.extend_from_slice(&edges);
    // Mirrored cross-edge pairs into nodes that cannot reach the target (or its mirror).
    for pair in layers.windows(2) {
        for &u in &pair[0] {
            for &v in pair[1].iter().filter(|&&v| !ancestor[v]) {
                if rng.gen_bool(p.p_cross) {
                    all.push((u, v + side));
                    all.push((u + side, v));
                }
            }
        }
    }
    all.shuffle(rng);
    let graph = Digraph::from_edges(2 * side, all).ok()?;
    Some((graph, 0, target, target + side))
}

/// Node ids of one side by layer (layer 0 = [0], the root), with per-layer widths drawn from
/// `min_width..=max_width` and thinned at random until the side has at most `max_nodes / 2`.
fn side_layers(p: &TwinParams, h: usize, rng: &mut ChaCha8Rng) -> Option<Vec<Vec<usize>>> {
    let budget = p.max_nodes / 2;
    let mut widths: Vec<usize> = (0..h)
        .map(|_| rng.gen_range(p.min_width..=p.max_width))
        .collect();
    while 1 + widths.iter().sum::<usize>() > budget {
        let wide: Vec<usize> = (0..h).filter(|&i| widths[i] > 1).collect();
        widths[*wide.choose(rng)?] -= 1;
    }
    let mut layers = vec![vec![0]];
    let mut next = 1;
    for w in widths {
        layers.push((next..next + w).collect());
        next += w;
    }
    Some(layers)
}

/// `ancestor[x]`: x can reach `target` (x = target included) along `edges` on `n` nodes.
fn ancestors(n: usize, edges: &[(usize, usize)], target: usize) -> Vec<bool> {
    let mut seen = vec![false; n];
    seen[target] = true;
    let mut stack = vec![target];
    while let Some(v) = stack.pop() {
        for &(u, w) in edges {
            if w == v && !seen[u] {
                seen[u] = true;
                stack.push(u);
            }
        }
    }
    seen
}
