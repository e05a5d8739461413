//! Reachability examples for training and evaluation: generated graphs (the `graph` crate's
//! ProsQA-family generator, Hao et al. 2024 App. A.2) and the shared ProsQA JSON files.
//!
//! An example keeps what the curriculum, the BFS targets and the probes need: the graph, the
//! root, the reachable target and the unreachable distractor, one gold (shortest) path, and
//! the BFS distance of every node from the root and to the target.

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// One graph-reachability question: "from `root`, is `target` or `distractor` reachable?".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReachExample {
    pub n_nodes: u32,
    /// Directed edges `(source, target)` in file order (shuffled again at encoding time).
    pub edges: Vec<(u32, u32)>,
    pub root: u32,
    /// The reachable candidate (the answer).
    pub target: u32,
    /// The unreachable candidate.
    pub distractor: u32,
    /// Gold path `root, n1, …, target` (a shortest path; `path.len() - 1` hops).
    pub path: Vec<u32>,
    /// BFS distance from the root (`None` = not reachable).
    pub dist_from_root: Vec<Option<u32>>,
    /// BFS distance to the target (`None` = cannot reach the target).
    pub dist_to_target: Vec<Option<u32>>,
}

impl ReachExample {
    /// Build an example and check it: the target must be reachable from the root and the
    /// distractor must not be. `gold_path` is used when given and valid; otherwise a shortest
    /// path is found by BFS (smallest node id first).
    pub fn new(
        n_nodes: u32,
        edges: Vec<(u32, u32)>,
        root: u32,
        target: u32,
        distractor: u32,
        gold_path: Option<Vec<u32>>,
    ) -> Result<Self, String> {
        for &(s, t) in &edges {
            if s >= n_nodes || t >= n_nodes {
                return Err(format!("edge ({s}, {t}) outside the {n_nodes} nodes"));
            }
        }
        for (name, v) in [
            ("root", root),
            ("target", target),
            ("distractor", distractor),
        ] {
            if v >= n_nodes {
                return Err(format!("{name} {v} outside the {n_nodes} nodes"));
            }
        }
        let dist_from_root = bfs(n_nodes, &edges, root, false);
        let dist_to_target = bfs(n_nodes, &edges, target, true);
        let Some(hops) = dist_from_root[target as usize] else {
            return Err(format!("target {target} is not reachable from root {root}"));
        };
        if dist_from_root[distractor as usize].is_some() {
            return Err(format!(
                "distractor {distractor} is reachable from root {root}"
            ));
        }
        let edge_set: std::collections::HashSet<(u32, u32)> = edges.iter().copied().collect();
        let valid = |p: &Vec<u32>| {
            p.len() == hops as usize + 1
                && p.first() == Some(&root)
                && p.last() == Some(&target)
                && p.windows(2).all(|w| edge_set.contains(&(w[0], w[1])))
        };
        let path = match gold_path {
            Some(p) if valid(&p) => p,
            _ => {
                // Walk forward along nodes that are one step closer to the target.
                let mut p = vec![root];
                let mut cur = root;
                while cur != target {
                    let d = dist_to_target[cur as usize].expect("on a path to the target");
                    let next = edges
                        .iter()
                        .filter(|&&(s, t)| s == cur && dist_to_target[t as usize] == Some(d - 1))
                        .map(|&(_, t)| t)
                        .min()
                        .expect("a BFS predecessor exists");
                    p.push(next);
                    cur = next;
                }
                p
            }
        };
        Ok(ReachExample {
            n_nodes,
            edges,
            root,
            target,
            distractor,
            path,
            dist_from_root,
            dist_to_target,
        })
    }

    /// Number of hops of the shortest root→target path.
    pub fn hops(&self) -> usize {
        self.path.len() - 1
    }

    /// Nodes at distance exactly `i` from the root (the hop-`i` BFS frontier).
    pub fn frontier(&self, i: u32) -> Vec<u32> {
        (0..self.n_nodes)
            .filter(|&v| self.dist_from_root[v as usize] == Some(i))
            .collect()
    }

    /// Is `v` on some shortest root→target path at depth `i` ("optimal" in Zhu et al. Table 5)?
    pub fn optimal_at(&self, v: u32, i: u32) -> bool {
        let h = self.hops() as u32;
        self.dist_from_root[v as usize] == Some(i)
            && i <= h
            && self.dist_to_target[v as usize] == Some(h - i)
    }
}

/// BFS distances from `src` (forward edges, or reversed edges when `reverse`).
fn bfs(n: u32, edges: &[(u32, u32)], src: u32, reverse: bool) -> Vec<Option<u32>> {
    let mut adj = vec![Vec::new(); n as usize];
    for &(s, t) in edges {
        if reverse {
            adj[t as usize].push(s);
        } else {
            adj[s as usize].push(t);
        }
    }
    let mut dist = vec![None; n as usize];
    dist[src as usize] = Some(0);
    let mut q = VecDeque::from([src]);
    while let Some(u) = q.pop_front() {
        let d = dist[u as usize].unwrap();
        for &w in &adj[u as usize] {
            if dist[w as usize].is_none() {
                dist[w as usize] = Some(d + 1);
                q.push_back(w);
            }
        }
    }
    dist
}

impl ReachExample {
    /// Convert a task of the `graph` crate (its gold path is kept).
    pub fn from_task(task: &superpose_graph::ReachTask) -> Result<Self, String> {
        let edges = task
            .graph
            .edges()
            .iter()
            .map(|&(s, t)| (s as u32, t as u32))
            .collect();
        let gold = (!task.gold_path.is_empty())
            .then(|| task.gold_path.iter().map(|&v| v as u32).collect());
        ReachExample::new(
            task.graph.n() as u32,
            edges,
            task.root as u32,
            task.target as u32,
            task.distractor as u32,
            gold,
        )
    }
}

/// Generate `count` ProsQA-family examples (Coconut Algorithm 1, the `graph` crate) from
/// `seed`, keeping those whose shortest path has `min_hops..=max_hops` hops.
pub fn generate_examples(
    count: usize,
    seed: u64,
    min_nodes: usize,
    max_nodes: usize,
    min_hops: usize,
    max_hops: usize,
) -> Result<Vec<ReachExample>, TrainError> {
    use superpose_graph::generate::{generate, Family, HopRange, ProsqaParams};
    let family = Family::Prosqa(ProsqaParams {
        min_nodes,
        max_nodes,
        min_hops,
        ..ProsqaParams::default()
    });
    let hops = HopRange {
        min: min_hops,
        max: max_hops,
    };
    let tasks = generate(&family, count, seed, Some(hops))
        .map_err(|e| TrainError::Invalid(format!("generating graphs (seed {seed}): {e}")))?;
    tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            ReachExample::from_task(t)
                .map_err(|m| TrainError::Invalid(format!("generated task {i} (seed {seed}): {m}")))
        })
        .collect()
}

#[derive(Deserialize)]
struct ProsqaRecord {
    edges: Vec<(u32, u32)>,
    root: u32,
    target: u32,
    neg_target: u32,
    #[serde(default)]
    idx_to_symbol: Vec<String>,
    /// Zhu et al.'s files: for hop k, the depth-k nodes on a shortest path.
    #[serde(default)]
    neighbor_k: Option<std::collections::BTreeMap<String, Vec<u32>>>,
}

/// Read a ProsQA JSON file (Coconut's `prosqa_*.json` or Zhu et al.'s
/// `prosqa_*_graph_4_coconut.json`) into examples. Errors name the file and the record index
/// (or the line and column of a JSON syntax error).
pub fn read_prosqa(path: &Path) -> Result<Vec<ReachExample>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| TrainError::Data {
            file: path.display().to_string(),
            msg: format!("line {}, column {}: {e}", e.line(), e.column()),
        })?;
    let mut out = Vec::with_capacity(records.len());
    for (i, value) in records.into_iter().enumerate() {
        let bad = |msg: String| TrainError::Data {
            file: path.display().to_string(),
            msg: format!("record {i}: {msg}"),
        };
        let rec: ProsqaRecord = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        let max_id = rec
            .edges
            .iter()
            .flat_map(|&(s, t)| [s, t])
            .chain([rec.root, rec.target, rec.neg_target])
            .max()
            .unwrap_or(0);
        if max_id as usize >= crate::config::MAX_NODE_TOKENS {
            return Err(bad(format!(
                "node id {max_id} is not below the limit of {} node tokens",
                crate::config::MAX_NODE_TOKENS
            )));
        }
        let n_nodes = (rec.idx_to_symbol.len() as u32).max(max_id + 1);
        // Zhu et al.'s `neighbor_k` gives the gold path node per hop (keys "0", "1", ...).
        let gold = rec.neighbor_k.as_ref().and_then(|nk| {
            let mut p = vec![rec.root];
            for k in 1..=nk.len() {
                p.push(*nk.get(&k.to_string())?.first()?);
            }
            if p.last() != Some(&rec.target) {
                p.push(rec.target);
            }
            Some(p)
        });
        let ex = ReachExample::new(
            n_nodes,
            rec.edges,
            rec.root,
            rec.target,
            rec.neg_target,
            gold,
        )
        .map_err(bad)?;
        out.push(ex);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diamond() -> ReachExample {
        // 0 -> 1 -> 3 -> 4 ; 0 -> 2 -> 3 ; 5 -> 6 ; 2 -> 7
        let edges = vec![(0, 1), (1, 3), (3, 4), (0, 2), (2, 3), (5, 6), (2, 7)];
        ReachExample::new(8, edges, 0, 4, 6, None).unwrap()
    }

    #[test]
    fn distances_frontiers_and_optimal_nodes() {
        let ex = diamond();
        assert_eq!(ex.hops(), 3);
        assert_eq!(ex.path, vec![0, 1, 3, 4]);
        assert_eq!(ex.frontier(1), vec![1, 2]);
        assert_eq!(ex.frontier(2), vec![3, 7]);
        assert!(ex.optimal_at(2, 1) && ex.optimal_at(1, 1));
        assert!(!ex.optimal_at(7, 2) && ex.optimal_at(3, 2));
        assert_eq!(ex.dist_from_root[5], None);
    }

    #[test]
    fn generated_examples_respect_filters_and_seeds() {
        let a = generate_examples(20, 1, 12, 20, 3, 4).unwrap();
        let b = generate_examples(20, 2, 12, 20, 3, 4).unwrap();
        assert_eq!(a.len(), 20);
        assert!(a
            .iter()
            .all(|e| (3..=4).contains(&e.hops()) && e.n_nodes <= 20));
        assert_ne!(a, b);
        assert_eq!(a, generate_examples(20, 1, 12, 20, 3, 4).unwrap());
    }

    #[test]
    fn rejects_reachable_distractor() {
        let err = ReachExample::new(3, vec![(0, 1), (1, 2)], 0, 1, 2, None).unwrap_err();
        assert!(err.contains("distractor"), "{err}");
    }

    #[test]
    fn reads_shared_validation_file() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/prosqa/prosqa_valid_graph_4_coconut.json"
        ));
        let exs = read_prosqa(path).unwrap();
        assert_eq!(exs.len(), 257);
        assert!(exs.iter().all(|e| (3..=4).contains(&e.hops())));
        assert!(exs.iter().all(|e| e.n_nodes <= 31));
        // The first record's steps: Tom -> terpus -> brimpus -> lempus = 1 -> 3 -> 14 -> 16.
        assert_eq!(exs[0].path, vec![1, 3, 14, 16]);
    }

    #[test]
    fn malformed_file_names_record() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(
            &p,
            r#"[{"edges": [[0,1]], "root": 0, "target": 1, "neg_target": 0}]"#,
        )
        .unwrap();
        let err = read_prosqa(&p).unwrap_err().to_string();
        assert!(
            err.contains("bad.json") && err.contains("record 0"),
            "{err}"
        );
        std::fs::write(&p, "[{\"edges\": ").unwrap();
        let err = read_prosqa(&p).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
