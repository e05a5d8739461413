//! Dataset statistics in the form of Coconut's Table 2 (Hao et al. 2024, App. A.2):
//! mean node count, edge count, shortest root→target path length, number of shortest paths.

use crate::solve::bfs;
use crate::ReachTask;

/// Table-2 statistics of a set of tasks (means over tasks with a reachable target).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TaskStats {
    pub tasks: usize,
    pub mean_nodes: f64,
    pub mean_edges: f64,
    pub mean_shortest_path_len: f64,
    pub mean_num_shortest_paths: f64,
    /// Histogram of shortest-path lengths (hops): `hops_histogram[k]` = tasks with k hops.
    pub hops_histogram: Vec<usize>,
    pub min_nodes: usize,
    pub max_nodes: usize,
}

/// Computes the Table-2 statistics by BFS on every task.
pub fn table2_stats(tasks: &[ReachTask]) -> TaskStats {
    let mut nodes = 0.0;
    let mut edges = 0.0;
    let mut len = 0.0;
    let mut paths = 0.0;
    let mut counted = 0usize;
    let mut hist = Vec::new();
    let (mut min_n, mut max_n) = (usize::MAX, 0);
    for t in tasks {
        nodes += t.graph.n() as f64;
        edges += t.graph.num_edges() as f64;
        min_n = min_n.min(t.graph.n());
        max_n = max_n.max(t.graph.n());
        let b = bfs(&t.graph, t.root);
        if let Some(d) = b.dist[t.target] {
            counted += 1;
            len += d as f64;
            paths += b.num_shortest_paths[t.target] as f64;
            if hist.len() <= d {
                hist.resize(d + 1, 0);
            }
            hist[d] += 1;
        }
    }
    let k = tasks.len().max(1) as f64;
    let c = counted.max(1) as f64;
    TaskStats {
        tasks: tasks.len(),
        mean_nodes: nodes / k,
        mean_edges: edges / k,
        mean_shortest_path_len: len / c,
        mean_num_shortest_paths: paths / c,
        hops_histogram: hist,
        min_nodes: if tasks.is_empty() { 0 } else { min_n },
        max_nodes: max_n,
    }
}
