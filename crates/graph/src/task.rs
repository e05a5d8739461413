//! The two-candidate graph-reachability task (ProsQA; Zhu et al. 2025, §3).

use crate::solve::{bfs, neighbor_k};
use crate::{Digraph, GraphError};

/// Coconut's natural-language rendering of a task (Hao et al. 2024, App. A.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoconutText {
    /// The facts ("Every X is a Y." / "Tom is a Y.") then "Is Tom a A or B?".
    pub question: String,
    /// "Tom is a A."
    pub answer: String,
    /// One sentence per edge of the gold path.
    pub steps: Vec<String>,
}

/// A reachability question: from `root`, which of `target` / `distractor` can be reached?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReachTask {
    pub graph: Digraph,
    pub root: usize,
    /// The reachable candidate (Coconut's `target`).
    pub target: usize,
    /// The unreachable candidate (Coconut's `neg_target`).
    pub distractor: usize,
    /// Gold shortest path root..=target (root first). Empty only for a mislabelled task read
    /// from a file (target not reachable).
    pub gold_path: Vec<usize>,
    /// Per-hop gold nodes: `neighbor_k[k]` = nodes at depth k on a shortest root→target path.
    pub neighbor_k: Option<Vec<Vec<usize>>>,
    /// Candidate order in the question: true = "Is root a TARGET or DISTRACTOR?".
    pub target_first: bool,
    /// Natural-language form, when the task came from (or was generated as) a Coconut record.
    pub coconut: Option<CoconutText>,
}

impl ReachTask {
    /// A task with the BFS shortest path as gold path and `neighbor_k` filled in; errors unless
    /// the target is reachable and the distractor is not.
    pub fn new(
        graph: Digraph,
        root: usize,
        target: usize,
        distractor: usize,
        target_first: bool,
    ) -> Result<Self, GraphError> {
        let n = graph.n();
        for node in [root, target, distractor] {
            if node >= n {
                return Err(GraphError::NodeOutOfRange { node, n });
            }
        }
        let b = bfs(&graph, root);
        let gold_path = b
            .path_to(target)
            .ok_or(GraphError::TargetUnreachable { target })?;
        if b.reachable(distractor) {
            return Err(GraphError::DistractorReachable { distractor });
        }
        let nk = neighbor_k(&graph, root, target);
        Ok(ReachTask {
            graph,
            root,
            target,
            distractor,
            gold_path,
            neighbor_k: nk,
            target_first,
            coconut: None,
        })
    }

    /// Number of hops of the gold path (0 if it is empty).
    pub fn hops(&self) -> usize {
        self.gold_path.len().saturating_sub(1)
    }

    /// The two candidates in question order.
    pub fn candidates(&self) -> [usize; 2] {
        if self.target_first {
            [self.target, self.distractor]
        } else {
            [self.distractor, self.target]
        }
    }
}
