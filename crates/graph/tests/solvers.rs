//! The exact solvers agree with each other and with brute-force references on thousands of
//! random digraphs.
#![allow(clippy::needless_range_loop)] // index loops mirror the math (d[u][v]) in these references

use proptest::prelude::*;
use superpose_graph::solve::{
    bfs, diameter, eccentricity, is_shortest_path, matrix_power_reachability, neighbor_k,
    reach_sets, solve_task,
};
use superpose_graph::{Digraph, ReachTask};

const INF: usize = usize::MAX;

/// All-pairs shortest distances by Floyd–Warshall (reference, independent of BFS).
fn floyd_warshall(g: &Digraph) -> Vec<Vec<usize>> {
    let n = g.n();
    let mut d = vec![vec![INF; n]; n];
    for (u, row) in d.iter_mut().enumerate() {
        row[u] = 0;
    }
    for &(u, v) in g.edges() {
        if u != v {
            d[u][v] = 1;
        }
    }
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                if d[i][k] != INF && d[k][j] != INF && d[i][k] + d[k][j] < d[i][j] {
                    d[i][j] = d[i][k] + d[k][j];
                }
            }
        }
    }
    d
}

/// Number of walks of each length from `root` to every node (walks of shortest length are
/// exactly the shortest paths).
fn walk_counts(g: &Digraph, root: usize, len: usize) -> Vec<Vec<u64>> {
    let mut cur = vec![0u64; g.n()];
    cur[root] = 1;
    let mut out = vec![cur.clone()];
    for _ in 0..len {
        let mut next = vec![0u64; g.n()];
        for &(u, v) in g.edges() {
            next[v] += cur[u];
        }
        out.push(next.clone());
        cur = next;
    }
    out
}

fn digraph() -> impl Strategy<Value = (Digraph, usize)> {
    (1usize..24).prop_flat_map(|n| {
        (
            Just(n),
            proptest::collection::vec((0..n, 0..n), 0..(3 * n)),
            0..n,
        )
            .prop_map(|(n, edges, root)| (Digraph::from_edges(n, edges).unwrap(), root))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn solvers_agree((g, root) in digraph()) {
        let n = g.n();
        let fw = floyd_warshall(&g);
        let b = bfs(&g, root);
        // BFS distances equal Floyd–Warshall's.
        for v in 0..n {
            let want = (fw[root][v] != INF).then_some(fw[root][v]);
            prop_assert_eq!(b.dist[v], want);
        }
        // BFS parents give shortest paths.
        for v in 0..n {
            if let Some(p) = b.path_to(v) {
                prop_assert!(is_shortest_path(&g, root, v, &p));
            }
        }
        // Shortest-path counts equal walk counts at the shortest length.
        let ecc = b.eccentricity();
        let walks = walk_counts(&g, root, ecc);
        for v in 0..n {
            match b.dist[v] {
                Some(d) => prop_assert_eq!(b.num_shortest_paths[v], walks[d][v]),
                None => prop_assert_eq!(b.num_shortest_paths[v], 0),
            }
        }
        // R_k = {v : dist ≤ k}, frontiers = {v : dist = k}, nested.
        let rs = reach_sets(&g, root, n);
        prop_assert_eq!(rs.reach.len(), n + 1);
        for k in 0..=n {
            let want: Vec<usize> = (0..n).filter(|&v| fw[root][v] <= k).collect();
            prop_assert_eq!(rs.reach_list(k), want);
            let front: Vec<usize> = (0..n).filter(|&v| fw[root][v] == k).collect();
            prop_assert_eq!(&rs.frontiers[k], &front);
            if k > 0 {
                prop_assert!(rs.reach[k - 1].is_subset(&rs.reach[k]));
            }
        }
        // Matrix powers give the same reachability from every node.
        let c = matrix_power_reachability(&g);
        for u in 0..n {
            for v in 0..n {
                prop_assert_eq!(c.reachable(u, v), fw[u][v] != INF);
            }
        }
        prop_assert!(1usize << c.squarings >= n.saturating_sub(1));
        // Eccentricity and diameter.
        let finite = |row: &Vec<usize>| row.iter().copied().filter(|&d| d != INF).max().unwrap_or(0);
        prop_assert_eq!(eccentricity(&g, root).value, finite(&fw[root]));
        prop_assert_eq!(diameter(&g).value, fw.iter().map(finite).max().unwrap_or(0));
    }

    #[test]
    fn tasks_are_answered_and_neighbor_k_is_exact((g, root) in digraph(), pick in any::<(u16, u16)>()) {
        let n = g.n();
        let fw = floyd_warshall(&g);
        let reach: Vec<usize> = (0..n).filter(|&v| fw[root][v] != INF).collect();
        let unreach: Vec<usize> = (0..n).filter(|&v| fw[root][v] == INF).collect();
        prop_assume!(!unreach.is_empty());
        let target = reach[pick.0 as usize % reach.len()];
        let distractor = unreach[pick.1 as usize % unreach.len()];
        let task = ReachTask::new(g.clone(), root, target, distractor, pick.0 % 2 == 0).unwrap();
        let a = solve_task(&task);
        prop_assert_eq!(a.answer, Some(target));
        prop_assert!(a.correct);
        prop_assert_eq!(a.hops, Some(fw[root][target]));
        // Swapping the labels makes the (unchanged) answer incorrect.
        let mut swapped = task.clone();
        std::mem::swap(&mut swapped.target, &mut swapped.distractor);
        prop_assert!(!solve_task(&swapped).correct);
        let len = fw[root][target];
        let nk = neighbor_k(&g, root, target).unwrap();
        prop_assert_eq!(nk.len(), len + 1);
        for (k, layer) in nk.iter().enumerate() {
            let want: Vec<usize> = (0..n)
                .filter(|&v| fw[root][v] == k && fw[v][target] != INF && fw[v][target] == len - k)
                .collect();
            prop_assert_eq!(layer, &want);
        }
        prop_assert!(ReachTask::new(g.clone(), root, distractor, target, true).is_err());
    }
}

#[test]
fn chain_matrix_power_uses_log_depth() {
    let n = 33;
    let g = Digraph::from_edges(n, (0..n - 1).map(|u| (u, u + 1))).unwrap();
    let c = matrix_power_reachability(&g);
    assert_eq!(c.squarings, 5); // 2^5 = 32 = n - 1
    assert_eq!(c.ops, 5 * 33u64.pow(3));
    assert!(c.reachable(0, 32) && !c.reachable(32, 0));
    assert_eq!(diameter(&g).value, 32);
    assert_eq!(bfs(&g, 0).ops, 33 + 32);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn all_three_task_solvers_give_the_same_answer((g, root) in digraph(), pick in any::<(u16, u16)>()) {
        use superpose_graph::solve::{solve_task_with, Solver};
        let n = g.n();
        let b = bfs(&g, root);
        // Any two nodes as candidates, including mislabelled or ambiguous questions.
        let target = pick.0 as usize % n;
        let distractor = pick.1 as usize % n;
        let task = ReachTask {
            graph: g.clone(),
            root,
            target,
            distractor,
            gold_path: b.path_to(target).unwrap_or_default(),
            neighbor_k: None,
            target_first: true,
            coconut: None,
        };
        let a = solve_task_with(&task, Solver::Bfs);
        for s in [Solver::ReachSets, Solver::MatrixPower] {
            let o = solve_task_with(&task, s);
            prop_assert_eq!((o.answer, o.correct, o.hops), (a.answer, a.correct, a.hops));
            prop_assert_eq!((o.target_reachable, o.distractor_reachable), (a.target_reachable, a.distractor_reachable));
        }
    }
}
