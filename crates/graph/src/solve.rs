//! Exact reachability solvers, each reporting an operation count.
//!
//! * [`bfs`]: breadth-first search with parents and shortest-path counts (the sequential
//!   O(n + m) algorithm; `ops` counts node pops plus edge inspections).
//! * [`reach_sets`]: the per-hop reachable sets R_0 ⊆ R_1 ⊆ … and frontiers F_k = R_k \ R_{k-1}:
//!   the exact superposition a continuous thought holds after k steps (Zhu et al. 2025, Thm. 1:
//!   thought k is the normalised sum of the embeddings of R_k).
//! * [`eccentricity`], [`diameter`]: the number of thoughts Theorem 1 needs (C > diameter).
//! * [`matrix_power_reachability`]: boolean repeated squaring of (I ∨ A), ⌈log₂ n⌉ squarings:
//!   the log-depth parallel algorithm (`ops` counts n³ AND/OR products per squaring).

use fixedbitset::FixedBitSet;

use crate::{Digraph, ReachTask};

/// Result of a breadth-first search from `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bfs {
    pub root: usize,
    /// Hop distance from the root (`None`: unreachable).
    pub dist: Vec<Option<usize>>,
    /// BFS-tree parent (first discoverer in out-adjacency order); `None` for the root and
    /// unreachable nodes.
    pub parent: Vec<Option<usize>>,
    /// Number of distinct shortest root→v paths (saturating; 0 when unreachable).
    pub num_shortest_paths: Vec<u64>,
    /// Nodes in the order they were dequeued (non-decreasing distance).
    pub order: Vec<usize>,
    /// Node pops plus edge inspections.
    pub ops: u64,
}

impl Bfs {
    /// Whether `v` is reachable from the root.
    pub fn reachable(&self, v: usize) -> bool {
        self.dist[v].is_some()
    }

    /// A shortest root→v path (root first), following BFS parents.
    pub fn path_to(&self, v: usize) -> Option<Vec<usize>> {
        self.dist[v]?;
        let mut path = vec![v];
        let mut cur = v;
        while let Some(p) = self.parent[cur] {
            path.push(p);
            cur = p;
        }
        path.reverse();
        Some(path)
    }

    /// Largest finite distance (the root's eccentricity).
    pub fn eccentricity(&self) -> usize {
        self.dist.iter().flatten().copied().max().unwrap_or(0)
    }
}

/// Breadth-first search from `root` (parents, distances, shortest-path counts).
pub fn bfs(g: &Digraph, root: usize) -> Bfs {
    let n = g.n();
    let mut dist = vec![None; n];
    let mut parent = vec![None; n];
    let mut count = vec![0u64; n];
    let mut order = Vec::with_capacity(n);
    let mut ops = 0u64;
    dist[root] = Some(0);
    count[root] = 1;
    order.push(root);
    let mut head = 0;
    while head < order.len() {
        let u = order[head];
        head += 1;
        ops += 1;
        let du = dist[u].unwrap_or(0);
        for &v in g.out(u) {
            ops += 1;
            match dist[v] {
                None => {
                    dist[v] = Some(du + 1);
                    parent[v] = Some(u);
                    count[v] = count[u];
                    order.push(v);
                }
                Some(dv) if dv == du + 1 => count[v] = count[v].saturating_add(count[u]),
                _ => {}
            }
        }
    }
    Bfs {
        root,
        dist,
        parent,
        num_shortest_paths: count,
        order,
        ops,
    }
}

/// Per-hop reachable sets and frontiers from a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReachSets {
    /// `reach[k]` = R_k, the nodes reachable in at most k hops (k = 0..=max_hops).
    pub reach: Vec<FixedBitSet>,
    /// `frontiers[k]` = F_k = R_k \ R_{k-1} in ascending node order (F_0 = {root}).
    pub frontiers: Vec<Vec<usize>>,
    /// Edge inspections plus frontier-node visits.
    pub ops: u64,
}

impl ReachSets {
    /// R_k as a sorted node list.
    pub fn reach_list(&self, k: usize) -> Vec<usize> {
        self.reach[k].ones().collect()
    }
}

/// R_0 ⊆ R_1 ⊆ … ⊆ R_max_hops and their frontiers, by layer-synchronous expansion.
pub fn reach_sets(g: &Digraph, root: usize, max_hops: usize) -> ReachSets {
    let n = g.n();
    let mut cur = FixedBitSet::with_capacity(n);
    cur.insert(root);
    let mut reach = vec![cur.clone()];
    let mut frontiers = vec![vec![root]];
    let mut ops = 1u64;
    for _ in 0..max_hops {
        let mut next = Vec::new();
        for &u in frontiers.last().expect("non-empty") {
            ops += 1;
            for &v in g.out(u) {
                ops += 1;
                if !cur.put(v) {
                    next.push(v);
                }
            }
        }
        next.sort_unstable();
        reach.push(cur.clone());
        frontiers.push(next);
    }
    ReachSets {
        reach,
        frontiers,
        ops,
    }
}

/// A value with the number of elementary operations spent computing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted<T> {
    pub value: T,
    pub ops: u64,
}

/// Eccentricity of `root`: the largest shortest-path distance to a reachable node.
pub fn eccentricity(g: &Digraph, root: usize) -> Counted<usize> {
    let b = bfs(g, root);
    Counted {
        value: b.eccentricity(),
        ops: b.ops,
    }
}

/// Diameter: the largest finite shortest-path distance over all ordered pairs (BFS from
/// every node). 0 for graphs without edges.
pub fn diameter(g: &Digraph) -> Counted<usize> {
    let mut best = 0;
    let mut ops = 0;
    for r in 0..g.n() {
        let e = eccentricity(g, r);
        best = best.max(e.value);
        ops += e.ops;
    }
    Counted { value: best, ops }
}

/// The reflexive-transitive closure by boolean repeated squaring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closure {
    /// `reach[u]` = the set of nodes reachable from u (u included).
    pub reach: Vec<FixedBitSet>,
    /// Number of squarings performed: ⌈log₂ max(n-1, 1)⌉ (the parallel depth, up to a
    /// log n factor per squaring).
    pub squarings: usize,
    /// n³ boolean AND/OR products per squaring (the dense parallel algorithm's work).
    pub ops: u64,
}

impl Closure {
    /// Whether `v` is reachable from `u`.
    pub fn reachable(&self, u: usize, v: usize) -> bool {
        self.reach[u].contains(v)
    }
}

/// Reachability by boolean matrix powers: M = I ∨ A, then M ← M·M (boolean) until the
/// power 2^s ≥ n - 1 covers every simple path. Log-depth, O(n³ log n) work.
pub fn matrix_power_reachability(g: &Digraph) -> Closure {
    let n = g.n();
    let mut m: Vec<FixedBitSet> = (0..n)
        .map(|u| {
            let mut row = FixedBitSet::with_capacity(n);
            row.insert(u);
            for &v in g.out(u) {
                row.insert(v);
            }
            row
        })
        .collect();
    let mut squarings = 0;
    let mut covered = 1usize; // M currently holds paths of length <= covered
    while covered < n.saturating_sub(1) {
        // (M·M)[i][j] = OR_k M[i][k] AND M[k][j]: row i of the square is the union of the
        // rows k that row i contains.
        let next: Vec<FixedBitSet> = m
            .iter()
            .map(|row| {
                let mut acc = FixedBitSet::with_capacity(n);
                for k in row.ones() {
                    acc.union_with(&m[k]);
                }
                acc
            })
            .collect();
        m = next;
        squarings += 1;
        covered = covered.saturating_mul(2);
    }
    let n3 = (n as u64).pow(3);
    Closure {
        reach: m,
        squarings,
        ops: n3 * squarings as u64,
    }
}

/// The answer to a two-candidate reachability question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskAnswer {
    /// The candidate that is reachable from the root, when exactly one is.
    pub answer: Option<usize>,
    pub target_reachable: bool,
    pub distractor_reachable: bool,
    /// Whether `answer` is the task's labelled target.
    pub correct: bool,
    /// Shortest-path length to the answer (hops), when there is one.
    pub hops: Option<usize>,
    /// BFS operations.
    pub ops: u64,
}

/// Answers "which candidate is reachable from the root?" by BFS and checks the label.
pub fn solve_task(task: &ReachTask) -> TaskAnswer {
    let b = bfs(&task.graph, task.root);
    let t = b.reachable(task.target);
    let d = b.reachable(task.distractor);
    let answer = match (t, d) {
        (true, false) => Some(task.target),
        (false, true) => Some(task.distractor),
        _ => None,
    };
    TaskAnswer {
        answer,
        target_reachable: t,
        distractor_reachable: d,
        correct: answer == Some(task.target),
        hops: answer.and_then(|a| b.dist[a]),
        ops: b.ops,
    }
}

/// The nodes at depth k on some shortest root→target path, for k = 0..=dist(root, target)
/// (Zhu et al.'s `neighbor_k`), each list ascending. `None` if the target is unreachable.
pub fn neighbor_k(g: &Digraph, root: usize, target: usize) -> Option<Vec<Vec<usize>>> {
    let from_root = bfs(g, root);
    let len = from_root.dist[target]?;
    let to_target = bfs(&g.reversed(), target);
    let mut layers = vec![Vec::new(); len + 1];
    for v in 0..g.n() {
        if let (Some(a), Some(b)) = (from_root.dist[v], to_target.dist[v]) {
            if a + b == len {
                layers[a].push(v);
            }
        }
    }
    Some(layers)
}

/// Whether `path` is a path in `g` from `root` to `target` of shortest length.
pub fn is_shortest_path(g: &Digraph, root: usize, target: usize, path: &[usize]) -> bool {
    if path.first() != Some(&root) || path.last() != Some(&target) {
        return false;
    }
    if !path.windows(2).all(|w| g.has_edge(w[0], w[1])) {
        return false;
    }
    bfs(g, root).dist[target] == Some(path.len() - 1)
}

/// The most nodes [`Solver::MatrixPower`] accepts (O(n³ log n) work, n² bits).
pub const MAX_MATRIX_POWER_NODES: usize = 4096;
/// The most nodes [`Solver::ReachSets`] accepts (it keeps up to n sets of n bits).
pub const MAX_REACH_SETS_NODES: usize = 50_000;

impl Solver {
    /// The largest graph this solver takes on in bounded time and memory.
    pub fn max_nodes(self) -> usize {
        match self {
            Solver::Bfs => usize::MAX,
            Solver::ReachSets => MAX_REACH_SETS_NODES,
            Solver::MatrixPower => MAX_MATRIX_POWER_NODES,
        }
    }
}

/// Which exact solver answers a task (all give the same answer; they differ in work).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Solver {
    /// Breadth-first search from the root.
    #[default]
    Bfs,
    /// Per-hop reachable sets R_0 ⊆ R_1 ⊆ … up to n−1 hops (what continuous thoughts compute).
    ReachSets,
    /// Boolean matrix powers (the log-depth parallel algorithm).
    MatrixPower,
}

impl std::str::FromStr for Solver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bfs" => Ok(Solver::Bfs),
            "reach-sets" => Ok(Solver::ReachSets),
            "matrix-power" => Ok(Solver::MatrixPower),
            _ => Err(format!(
                "unknown solver `{s}` (expected bfs, reach-sets or matrix-power)"
            )),
        }
    }
}

/// [`solve_task`] with a chosen solver; `ops` is that solver's operation count (`hops` is
/// the first k with the answer in R_k for reach-sets, and BFS's distance for matrix powers,
/// whose closure has no distances).
pub fn solve_task_with(task: &ReachTask, solver: Solver) -> TaskAnswer {
    let g = &task.graph;
    let (t, d, ops) = match solver {
        Solver::Bfs => return solve_task(task),
        Solver::ReachSets => {
            let r = reach_sets(g, task.root, g.n().saturating_sub(1));
            let last = r.reach.last().expect("R_0 exists");
            (
                last.contains(task.target),
                last.contains(task.distractor),
                r.ops,
            )
        }
        Solver::MatrixPower => {
            let c = matrix_power_reachability(g);
            (
                c.reachable(task.root, task.target),
                c.reachable(task.root, task.distractor),
                c.ops,
            )
        }
    };
    let answer = match (t, d) {
        (true, false) => Some(task.target),
        (false, true) => Some(task.distractor),
        _ => None,
    };
    TaskAnswer {
        answer,
        target_reachable: t,
        distractor_reachable: d,
        correct: answer == Some(task.target),
        hops: answer.and_then(|a| bfs(g, task.root).dist[a]),
        ops,
    }
}
