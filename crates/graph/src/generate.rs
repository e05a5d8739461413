//! Seeded task generators: ProsQA (Coconut's Algorithm 1), the shortcut-free twin family
//! ([`crate::twin`]) and stress families.
//!
//! Every generator draws from one `ChaCha8Rng` seeded with the given seed, so the same
//! (family, count, seed, hop filter) always yields the same tasks. Each task carries names,
//! Coconut text and `neighbor_k`, so it can be written as a Coconut or symbolic record.

use std::fmt;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::prosqa::{coconut_text, random_names};
use crate::solve::bfs;
use crate::twin::twin;
pub use crate::twin::TwinParams;
use crate::{Digraph, ReachTask};

/// Parameters of the ProsQA generator (Coconut, Hao et al. 2024, App. A.2, Algorithm 1).
#[derive(Clone, Debug, PartialEq)]
pub struct ProsqaParams {
    /// Nodes added by Algorithm 1 (N, drawn uniformly from `min_nodes..=max_nodes`) before
    /// isolated nodes are dropped.
    pub min_nodes: usize,
    pub max_nodes: usize,
    /// Mean of the Poisson number of parents of each new node (Algorithm 1: 1.5).
    pub mean_parents: f64,
    /// Probability that parents come only from groups[0] ∪ groups[1] (not a descendant of
    /// the second root), and likewise for groups[0] ∪ groups[2] (Algorithm 1: 0.35 each).
    pub p_exclusive: f64,
    /// Parent weight is `depth · depth_weight + 1` (Algorithm 1: 1.5).
    pub depth_weight: f64,
    /// Questions whose answer is fewer hops away are rejected (the released data has ≥ 3).
    pub min_hops: usize,
    /// Drop nodes that ended with no edge at all (a node that drew 0 parents and was never
    /// picked as a parent): the released data has no isolated nodes.
    pub drop_isolated: bool,
}

impl Default for ProsqaParams {
    fn default() -> Self {
        ProsqaParams {
            min_nodes: 26,
            max_nodes: 26,
            mean_parents: 1.5,
            p_exclusive: 0.35,
            depth_weight: 1.5,
            min_hops: 3,
            drop_isolated: true,
        }
    }
}

/// A task family and its size parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Family {
    /// ProsQA DAGs (Coconut Algorithm 1).
    Prosqa(ProsqaParams),
    /// A path 0 → 1 → … → n-1 (diameter n-1); root at one end, target at the other; the
    /// distractor is an extra node with an edge into the chain.
    Chain { n: usize },
    /// A layered DAG: `depth` layers of `width` nodes; each node has edges from the previous
    /// layer with probability `p` (at least one). Root in layer 0, candidates in the last layer.
    Layered { width: usize, depth: usize, p: f64 },
    /// Erdős–Rényi digraph G(n, p): each ordered pair (u ≠ v) is an edge with probability p.
    ErdosRenyi { n: usize, p: f64 },
    /// A rows × cols grid with edges right and down; target in the far corner.
    Grid { rows: usize, cols: usize },
    /// Near miss: two chains of `hops` edges leave the root; the target ends one, the
    /// distractor the other, which misses exactly one edge (adding it back makes the
    /// distractor reachable at the same hop count as the target). Plus random edges among
    /// `n` nodes with probability `p` that neither connect the distractor nor shorten a chain.
    NearMiss { n: usize, hops: usize, p: f64 },
    /// Twin trees (issue 15): the root and a decoy root grow mirror-image layered DAGs with
    /// mirrored cross edges; target and distractor are mirror images, so every rule that
    /// ignores the root ties. The hop count is drawn uniformly from the hop range.
    Twin(TwinParams),
}

/// Family names accepted by [`Family::with_defaults`].
pub const FAMILY_NAMES: [&str; 7] = [
    "prosqa",
    "chain",
    "layered",
    "erdos-renyi",
    "grid",
    "near-miss",
    "twin",
];

impl Family {
    /// The family with default (ProsQA-size) parameters.
    pub fn with_defaults(name: &str) -> Option<Family> {
        Some(match name {
            "prosqa" => Family::Prosqa(ProsqaParams::default()),
            "chain" => Family::Chain { n: 8 },
            "layered" => Family::Layered {
                width: 4,
                depth: 5,
                p: 0.4,
            },
            "erdos-renyi" | "er" => Family::ErdosRenyi { n: 23, p: 0.07 },
            "grid" => Family::Grid { rows: 4, cols: 5 },
            "near-miss" => Family::NearMiss {
                n: 23,
                hops: 4,
                p: 0.05,
            },
            "twin" => Family::Twin(TwinParams::default()),
            _ => return None,
        })
    }

    /// The family's name (as on the command line).
    pub fn name(&self) -> &'static str {
        match self {
            Family::Prosqa(_) => "prosqa",
            Family::Chain { .. } => "chain",
            Family::Layered { .. } => "layered",
            Family::ErdosRenyi { .. } => "erdos-renyi",
            Family::Grid { .. } => "grid",
            Family::NearMiss { .. } => "near-miss",
            Family::Twin(_) => "twin",
        }
    }
}

/// An inclusive hop-count filter, e.g. `3-4` (Zhu et al.'s subset) or `5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HopRange {
    pub min: usize,
    pub max: usize,
}

impl HopRange {
    pub fn contains(&self, hops: usize) -> bool {
        self.min <= hops && hops <= self.max
    }
}

impl FromStr for HopRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |x: &str| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad hop range `{s}` (expected A-B or A)"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if min > max {
            return Err(format!("bad hop range `{s}`: {min} > {max}"));
        }
        Ok(HopRange { min, max })
    }
}

impl fmt::Display for HopRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// The most tasks one call generates (they are all held in memory).
pub const MAX_TASKS: usize = 1_000_000;
/// The most nodes in one generated graph (chain, grid, layered); the families that draw every
/// pair of nodes (Erdős–Rényi, near miss, ProsQA) are bounded by [`MAX_DENSE_NODES`].
pub const MAX_NODES: usize = 1_000_000;
/// The most nodes of a family that draws every pair of nodes.
pub const MAX_DENSE_NODES: usize = 20_000;
/// The most nodes plus edges over all tasks of one call (about 2 GB of memory).
pub const MAX_TOTAL_SIZE: usize = 100_000_000;

/// Errors from [`generate`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error("invalid parameters for {family}: {message}")]
    BadParams {
        family: &'static str,
        message: String,
    },
    #[error("too large: {message}")]
    TooLarge { message: String },
    #[error("gave up after {attempts} attempts: only {made} of {wanted} {family} tasks satisfied the filters (hops {hops})")]
    TooManyRejections {
        family: &'static str,
        attempts: usize,
        made: usize,
        wanted: usize,
        hops: String,
    },
}

/// Generates `count` tasks of `family` from `seed`, keeping those whose gold path length is
/// in `hops` (when given). The twin family draws the hop count uniformly from `hops` (default:
/// its parameters' range) instead of filtering.
pub fn generate(
    family: &Family,
    count: usize,
    seed: u64,
    hops: Option<HopRange>,
) -> Result<Vec<ReachTask>, GenerateError> {
    generate_with_progress(family, count, seed, hops, |_| {})
}

/// [`generate`], calling `progress(k)` after the k-th task is accepted (for progress bars).
pub fn generate_with_progress(
    family: &Family,
    count: usize,
    seed: u64,
    hops: Option<HopRange>,
    mut progress: impl FnMut(usize),
) -> Result<Vec<ReachTask>, GenerateError> {
    validate(family, hops)?;
    if count > MAX_TASKS {
        return Err(GenerateError::TooLarge {
            message: format!("count {count} is above the limit of {MAX_TASKS} tasks"),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tasks = Vec::with_capacity(count.min(1024));
    let max_attempts = 1000 + count.saturating_mul(200);
    let mut attempts = 0;
    while tasks.len() < count {
        if attempts >= max_attempts {
            return Err(GenerateError::TooManyRejections {
                family: family.name(),
                attempts,
                made: tasks.len(),
                wanted: count,
                hops: hops.map_or("any".into(), |h| h.to_string()),
            });
        }
        attempts += 1;
        if let Some(task) = generate_one_in(family, hops, &mut rng) {
            if hops.is_none_or(|h| h.contains(task.hops())) {
                // The first task's size estimates them all: refuse before memory runs out.
                let size = task.graph.n() + task.graph.num_edges();
                if tasks.is_empty() && size.saturating_mul(count) > MAX_TOTAL_SIZE {
                    return Err(GenerateError::TooLarge {
                        message: format!(
                            "{count} tasks of about {size} nodes + edges each exceed the limit \
                             of {MAX_TOTAL_SIZE} nodes + edges in all"
                        ),
                    });
                }
                tasks.push(task);
                progress(tasks.len());
            }
        }
    }
    Ok(tasks)
}

fn validate(family: &Family, hops: Option<HopRange>) -> Result<(), GenerateError> {
    let prob = |p: f64| (0.0..=1.0).contains(&p);
    // Expected edges of a family that draws pairs with probability p, within the memory limit.
    let dense = |pairs: f64, p: f64| pairs * p <= MAX_TOTAL_SIZE as f64;
    let problem = match family {
        Family::Prosqa(p) => {
            if p.min_nodes < 3 || p.min_nodes > p.max_nodes || p.max_nodes > MAX_DENSE_NODES {
                Some("need 3 <= min_nodes <= max_nodes <= 20000")
            } else if !(p.mean_parents >= 0.0 && p.mean_parents.is_finite()) {
                Some("mean_parents must be a finite non-negative number")
            } else if !prob(p.p_exclusive) || p.p_exclusive > 0.5 {
                Some("p_exclusive must be in [0, 0.5]")
            } else if !(p.depth_weight >= 0.0 && p.depth_weight.is_finite()) {
                Some("depth_weight must be finite and non-negative")
            } else {
                None
            }
        }
        Family::Chain { n } => (*n < 2 || *n > MAX_NODES).then_some("need 2 <= n <= 1000000"),
        Family::Layered { width, depth, p } => (*width < 2
            || *depth < 2
            || !prob(*p)
            || *width > MAX_DENSE_NODES
            || width.saturating_mul(*depth) > MAX_NODES
            || !dense((width * width * depth) as f64, *p))
            .then_some("need 2 <= width <= 20000, depth >= 2, width*depth <= 1000000, 0 <= p <= 1, width*width*depth*p <= 1e8"),
        Family::ErdosRenyi { n, p } => (*n < 3
            || *n > MAX_DENSE_NODES
            || !prob(*p)
            || !dense((n * n) as f64, *p))
            .then_some("need 3 <= n <= 20000, 0 <= p <= 1, n*n*p <= 1e8"),
        Family::Grid { rows, cols } => (*rows < 2 || *cols < 2 || rows.saturating_mul(*cols) > MAX_NODES)
            .then_some("need rows >= 2, cols >= 2 and rows*cols <= 1000000"),
        Family::NearMiss { n, hops, p } => (*hops < 2
            || *n < hops.saturating_mul(2).saturating_add(1)
            || *n > MAX_DENSE_NODES
            || !prob(*p)
            || !dense((n * n) as f64, *p))
        .then_some("need hops >= 2, 2*hops + 1 <= n <= 20000, 0 <= p <= 1, n*n*p <= 1e8"),
        Family::Twin(p) => {
            return match p.problem(hops) {
                Some(message) => Err(GenerateError::BadParams {
                    family: "twin",
                    message,
                }),
                None => Ok(()),
            }
        }
    };
    match problem {
        Some(message) => Err(GenerateError::BadParams {
            family: family.name(),
            message: message.to_string(),
        }),
        None => Ok(()),
    }
}

/// One task (or `None` when this draw has no valid question, e.g. no unreachable node).
/// Twin tasks draw their hop count from the parameters' default range.
pub fn generate_one(family: &Family, rng: &mut ChaCha8Rng) -> Option<ReachTask> {
    generate_one_in(family, None, rng)
}

/// [`generate_one`] with a hop range for the twin family (other families ignore it; the
/// caller filters them).
fn generate_one_in(
    family: &Family,
    hops: Option<HopRange>,
    rng: &mut ChaCha8Rng,
) -> Option<ReachTask> {
    let (graph, root, target, distractor) = match family {
        Family::Prosqa(p) => return prosqa_task(p, rng),
        Family::Chain { n } => chain(*n, rng),
        Family::Layered { width, depth, p } => layered(*width, *depth, *p, rng)?,
        Family::ErdosRenyi { n, p } => erdos_renyi(*n, *p, rng)?,
        Family::Grid { rows, cols } => grid(*rows, *cols, rng)?,
        Family::NearMiss { n, hops, p } => near_miss(*n, *hops, *p, rng)?,
        Family::Twin(p) => {
            if p.problem(hops).is_some() {
                return None;
            }
            twin(p, p.hop_range(hops), rng)?
        }
    };
    // Relabel nodes at random so node ids carry no information about the answer.
    let mut perm: Vec<usize> = (0..graph.n()).collect();
    perm.shuffle(rng);
    let graph = graph.permuted(&perm);
    finish(graph, perm[root], perm[target], perm[distractor], rng)
}

/// Builds the task, names and Coconut text.
fn finish(
    mut graph: Digraph,
    root: usize,
    target: usize,
    distractor: usize,
    rng: &mut ChaCha8Rng,
) -> Option<ReachTask> {
    let names = random_names(&graph, root, rng);
    graph.set_names(names.clone()).ok()?;
    let target_first = rng.gen_bool(0.5);
    let mut task = ReachTask::new(graph, root, target, distractor, target_first).ok()?;
    task.coconut = Some(coconut_text(&task, &names, rng));
    Some(task)
}

/// Knuth's Poisson sampler (fine for the small means used here).
fn poisson(mean: f64, rng: &mut impl Rng) -> usize {
    let limit = (-mean).exp();
    let mut k = 0;
    let mut prod: f64 = rng.gen();
    while prod > limit {
        k += 1;
        prod *= rng.gen::<f64>();
    }
    k
}

/// `k` distinct items drawn one at a time with probability proportional to weight
/// (numpy's `random.choice(..., replace=False, p=w)`).
fn weighted_sample(items: &[usize], weights: &[f64], k: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut items = items.to_vec();
    let mut weights = weights.to_vec();
    let mut chosen = Vec::with_capacity(k);
    for _ in 0..k.min(items.len()) {
        let total: f64 = weights.iter().sum();
        let mut x = rng.gen::<f64>() * total;
        let mut pick = items.len() - 1;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                pick = i;
                break;
            }
            x -= w;
        }
        chosen.push(items.swap_remove(pick));
        weights.swap_remove(pick);
    }
    chosen
}

/// Coconut's Algorithm 1 (Hao et al. 2024, App. A.2). Nodes 0 and 1 are the two entities
/// (labels 0b01 and 0b10); every later node gets Poisson(1.5) parents drawn with weight
/// `depth·1.5 + 1` from groups[0] ∪ groups[1] (prob. 0.35: never a descendant of node 1),
/// groups[0] ∪ groups[2] (prob. 0.35: never a descendant of node 0) or all nodes; its label is
/// the bitwise OR of its parents' labels (bit b set ⇔ descendant of root b).
/// The question's entity is one of the two roots, the answer one of its exclusive
/// descendants and the distractor a leaf descended only from the other root.
fn prosqa_task(p: &ProsqaParams, rng: &mut ChaCha8Rng) -> Option<ReachTask> {
    let n = rng.gen_range(p.min_nodes..=p.max_nodes);
    let mut graph = Digraph::new(n);
    let mut label = vec![0u8; n];
    let mut depth = vec![0usize; n];
    let mut groups: [Vec<usize>; 4] = [vec![], vec![0], vec![1], vec![]];
    label[0] = 1;
    label[1] = 2;
    let mut candidates = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for idx in 2..n {
        let r: f64 = rng.gen();
        candidates.clear();
        if r < p.p_exclusive {
            candidates.extend(groups[0].iter().chain(&groups[1]));
        } else if r < 2.0 * p.p_exclusive {
            candidates.extend(groups[0].iter().chain(&groups[2]));
        } else {
            candidates.extend(0..idx);
        }
        let n_in = poisson(p.mean_parents, rng).min(candidates.len());
        weights.clear();
        weights.extend(
            candidates
                .iter()
                .map(|&c| depth[c] as f64 * p.depth_weight + 1.0),
        );
        let parents = weighted_sample(&candidates, &weights, n_in, rng);
        let mut cur = 0u8;
        let mut d = 0;
        for &u in &parents {
            cur |= label[u];
            // depth_to_root: the node's level, one more than its deepest parent (roots: 0).
            d = d.max(depth[u] + 1);
            graph.add_edge(u, idx);
        }
        label[idx] = cur;
        depth[idx] = d;
        groups[cur as usize].push(idx);
    }
    // Pick the entity and the candidates. Algorithm 1 leaves this step implicit; these rules
    // reproduce the released split's Table-2 statistics (see the README, "The ProsQA generator"): the entity is the
    // root whose exclusive descendants reach deeper, the answer its deepest exclusive
    // descendant (ties: most shortest paths), the distractor a random leaf descended only from
    // the other root.
    let reach = [bfs(&graph, 0), bfs(&graph, 1)];
    let deepest = |r: usize, rng: &mut ChaCha8Rng| -> Option<(usize, u64, usize)> {
        let mut best: Vec<(usize, u64, usize)> = Vec::new();
        for v in 0..n {
            if let (Some(d), None) = (reach[r].dist[v], reach[1 - r].dist[v]) {
                let key = (d, reach[r].num_shortest_paths[v], v);
                match best.first() {
                    Some(b) if (b.0, b.1) > (key.0, key.1) => {}
                    Some(b) if (b.0, b.1) == (key.0, key.1) => best.push(key),
                    _ => best = vec![key],
                }
            }
        }
        best.choose(rng).copied()
    };
    let c0 = deepest(0, rng)?;
    let c1 = deepest(1, rng)?;
    let root = match c0.0.cmp(&c1.0) {
        std::cmp::Ordering::Greater => 0,
        std::cmp::Ordering::Less => 1,
        std::cmp::Ordering::Equal => rng.gen_range(0..2),
    };
    let (hops, _, target) = if root == 0 { c0 } else { c1 };
    if hops < p.min_hops.max(1) {
        return None;
    }
    let (from_root, from_other) = (&reach[root], &reach[1 - root]);
    let leaves: Vec<usize> = (0..n)
        .filter(|&v| {
            from_other.dist[v].is_some_and(|d| d > 0)
                && from_root.dist[v].is_none()
                && graph.out(v).is_empty()
        })
        .collect();
    let distractor = *leaves.choose(rng)?;
    if !p.drop_isolated {
        return finish(graph, root, target, distractor, rng);
    }
    // Drop isolated nodes (never the two entities), keeping creation order.
    let mut touched = vec![false; n];
    touched[0] = true;
    touched[1] = true;
    for &(u, v) in graph.edges() {
        touched[u] = true;
        touched[v] = true;
    }
    let mut new_id = vec![usize::MAX; n];
    let mut kept = 0;
    for v in 0..n {
        if touched[v] {
            new_id[v] = kept;
            kept += 1;
        }
    }
    let pruned = Digraph::from_edges(
        kept,
        graph.edges().iter().map(|&(u, v)| (new_id[u], new_id[v])),
    )
    .ok()?;
    finish(
        pruned,
        new_id[root],
        new_id[target],
        new_id[distractor],
        rng,
    )
}

fn chain(n: usize, _rng: &mut ChaCha8Rng) -> (Digraph, usize, usize, usize) {
    let mut g = Digraph::new(n + 1);
    for u in 0..n - 1 {
        g.add_edge(u, u + 1);
    }
    g.add_edge(n, 1.min(n - 1));
    (g, 0, n - 1, n)
}

fn layered(
    width: usize,
    depth: usize,
    p: f64,
    rng: &mut ChaCha8Rng,
) -> Option<(Digraph, usize, usize, usize)> {
    let mut g = Digraph::new(width * depth);
    for l in 1..depth {
        for j in 0..width {
            let v = l * width + j;
            let mut any = false;
            for i in 0..width {
                if rng.gen_bool(p) {
                    g.add_edge((l - 1) * width + i, v);
                    any = true;
                }
            }
            if !any {
                g.add_edge((l - 1) * width + rng.gen_range(0..width), v);
            }
        }
    }
    let root = rng.gen_range(0..width);
    pick_candidates(g, root, |v| v >= (depth - 1) * width, rng)
}

fn erdos_renyi(n: usize, p: f64, rng: &mut ChaCha8Rng) -> Option<(Digraph, usize, usize, usize)> {
    let mut g = Digraph::new(n);
    for u in 0..n {
        for v in 0..n {
            if u != v && rng.gen_bool(p) {
                g.add_edge(u, v);
            }
        }
    }
    let root = rng.gen_range(0..n);
    pick_candidates(g, root, |_| true, rng)
}

fn grid(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Option<(Digraph, usize, usize, usize)> {
    let id = |r: usize, c: usize| r * cols + c;
    let mut g = Digraph::new(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            if c + 1 < cols {
                g.add_edge(id(r, c), id(r, c + 1));
            }
            if r + 1 < rows {
                g.add_edge(id(r, c), id(r + 1, c));
            }
        }
    }
    // Root anywhere but the first row/column corner (so something is unreachable) and the
    // last row/column (so the far corner is more than one step away).
    let (r0, c0) = loop {
        let r = rng.gen_range(0..rows - 1);
        let c = rng.gen_range(0..cols - 1);
        if (r, c) != (0, 0) {
            break (r, c);
        }
    };
    let target = id(rows - 1, cols - 1);
    let unreachable: Vec<usize> = (0..rows * cols)
        .filter(|&v| v / cols < r0 || v % cols < c0)
        .collect();
    let distractor = *unreachable.choose(rng)?;
    Some((g, id(r0, c0), target, distractor))
}

fn near_miss(
    n: usize,
    hops: usize,
    p: f64,
    rng: &mut ChaCha8Rng,
) -> Option<(Digraph, usize, usize, usize)> {
    // Node 0 = root; 1..=hops = chain A ending at the target; hops+1..=2*hops = chain B ending
    // at the distractor, with one edge of B left out; the rest are noise nodes.
    let mut g = Digraph::new(n);
    let root = 0;
    let a: Vec<usize> = std::iter::once(root).chain(1..=hops).collect();
    let b: Vec<usize> = std::iter::once(root).chain(hops + 1..=2 * hops).collect();
    let missing = rng.gen_range(0..hops);
    for i in 0..hops {
        g.add_edge(a[i], a[i + 1]);
        if i != missing {
            g.add_edge(b[i], b[i + 1]);
        }
    }
    let target = a[hops];
    let distractor = b[hops];
    let mut pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|u| (0..n).map(move |v| (u, v)))
        .filter(|&(u, v)| u != v && v != root)
        .collect();
    pairs.shuffle(rng);
    let mut reach = bfs(&g, root);
    for (u, v) in pairs {
        if g.has_edge(u, v) || !rng.gen_bool(p) {
            continue;
        }
        g.add_edge(u, v);
        let new_reach = bfs(&g, root);
        // Keep the distractor unreachable and both chains shortest (so restoring the missing
        // edge puts the distractor exactly as deep as the target).
        let shortcut = new_reach.dist[target] != Some(hops)
            || (1..=missing).any(|i| new_reach.dist[b[i]] != Some(i));
        if shortcut || new_reach.reachable(distractor) {
            // Undo: rebuild without the last edge.
            let edges: Vec<(usize, usize)> = g.edges()[..g.num_edges() - 1].to_vec();
            g = Digraph::from_edges(n, edges).ok()?;
        } else {
            reach = new_reach;
        }
    }
    debug_assert!(reach.reachable(target));
    Some((g, root, target, distractor))
}

/// Root given; target = a farthest reachable node among `allowed`, distractor = a random
/// unreachable node among `allowed`.
fn pick_candidates(
    g: Digraph,
    root: usize,
    allowed: impl Fn(usize) -> bool,
    rng: &mut ChaCha8Rng,
) -> Option<(Digraph, usize, usize, usize)> {
    let b = bfs(&g, root);
    let far = (0..g.n())
        .filter(|&v| v != root && allowed(v))
        .filter_map(|v| b.dist[v].map(|d| (d, v)))
        .max_by_key(|&(d, _)| d)?
        .0;
    let targets: Vec<usize> = (0..g.n())
        .filter(|&v| v != root && allowed(v) && b.dist[v] == Some(far))
        .collect();
    let unreachable: Vec<usize> = (0..g.n())
        .filter(|&v| allowed(v) && !b.reachable(v))
        .collect();
    let target = *targets.choose(rng)?;
    let distractor = *unreachable.choose(rng)?;
    Some((g, root, target, distractor))
}
