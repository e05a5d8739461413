//! # superpose-graph: graph-reachability tasks with exact answers
//!
//! Quick API reference (everything below is re-exported at the crate root or in the named
//! module):
//!
//! ```text
//! Digraph                      n nodes 0..n, optional names, directed edges (insertion order),
//!   ::new(n) / ::from_edges(n, edges) -> Result / add_edge(u,v) / set_names(Vec<String>)
//!   n() num_edges() edges() -> &[(usize,usize)] out(u) -> &[usize] names() name(u)
//!   has_edge in_degrees in_adjacency reversed permuted(perm)
//! ReachTask { graph, root, target (reachable), distractor (= neg_target, unreachable),
//!             gold_path: Vec<usize> (root..=target, shortest),
//!             neighbor_k: Option<Vec<Vec<usize>>> (per-hop nodes on shortest paths),
//!             target_first: bool (candidate order in the question),
//!             coconut: Option<CoconutText { question, answer, steps }> }
//!   ::new(graph, root, target, distractor, target_first) -> Result (BFS gold path, neighbor_k)
//!   hops() candidates()
//! solve::bfs(&g, root) -> Bfs { dist, parent, num_shortest_paths, order, ops } (.path_to(v))
//! solve::reach_sets(&g, root, max_hops) -> ReachSets { reach: Vec<FixedBitSet> (R_0..),
//!                                                      frontiers: Vec<Vec<usize>>, ops }
//! solve::eccentricity(&g, root) / solve::diameter(&g) -> Counted<usize> { value, ops }
//! solve::matrix_power_reachability(&g) -> Closure { reach: Vec<FixedBitSet>, squarings, ops }
//! solve::solve_task(&task) -> TaskAnswer { answer: Option<usize>, correct, hops, ops, .. }
//! solve::solve_task_with(&task, Solver::{Bfs, ReachSets, MatrixPower}) (same answer, its ops)
//! solve::neighbor_k(&g, root, target), solve::is_shortest_path(&g, root, target, &path)
//! prosqa::read_tasks(path) -> Result<Vec<ReachTask>, ProsqaError>  (Coconut or symbolic file)
//! prosqa::write_tasks(path, &tasks)   (symbolic form = Coconut record + neighbor_k)
//! prosqa::{read_records, parse_records, write_records, records_to_json, CoconutRecord}
//! generate::{Family, ProsqaParams, TwinParams, HopRange, FAMILY_NAMES}
//! generate::generate(&family, count, seed, Option<HopRange>) -> Result<Vec<ReachTask>, _>
//!   Family::Prosqa(ProsqaParams::default()) | Chain{n} | Layered{width,depth,p}
//!   | ErdosRenyi{n,p} | Grid{rows,cols} | NearMiss{n,hops,p} | Twin(TwinParams::default())
//!   Family::with_defaults("grid"); twin: mirror-image trees of the root and a decoy root,
//!   hop count drawn uniformly from the HopRange (no root-agnostic shortcut, issue 15).
//!   every generated task has names, Coconut text (task.coconut) and neighbor_k.
//!   "3-4".parse::<HopRange>() filters by gold-path length (Zhu et al.'s 3–4-hop subset).
//! audit::audit(&tasks, band) -> AuditReport { rows: [RuleRow { rule, root_aware, accuracy,
//!   ties }], best_root_agnostic, verdict }  (shortcut rules that never read the root)
//! stats::{TaskStats, table2_stats(&tasks)}  (Coconut Table 2: nodes, edges, path len, #paths)
//! ```
//!
//! Conventions: node ids are `usize`; all randomness is `rand_chacha::ChaCha8Rng` seeded by
//! the caller's seed; every solver reports an operation count for complexity comparisons.

pub mod audit;
pub mod digraph;
pub mod generate;
pub mod prosqa;
pub mod solve;
pub mod stats;
pub mod task;
pub mod twin;

pub use digraph::Digraph;
pub use task::{CoconutText, ReachTask};

/// Errors building graphs and tasks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("node {node} out of range (graph has {n} nodes)")]
    NodeOutOfRange { node: usize, n: usize },
    #[error("{names} names given for {n} nodes")]
    NamesLength { names: usize, n: usize },
    #[error("target {target} is not reachable from the root")]
    TargetUnreachable { target: usize },
    #[error("distractor {distractor} is reachable from the root")]
    DistractorReachable { distractor: usize },
}
