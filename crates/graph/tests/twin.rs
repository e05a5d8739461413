//! The twin family (issue 15): every stated property holds on many seeds.

use superpose_graph::generate::{generate, Family, HopRange, TwinParams};
use superpose_graph::prosqa::{parse_records, records_to_json, CoconutRecord};
use superpose_graph::solve::{bfs, solve_task};
use superpose_graph::{Digraph, ReachTask};

fn ancestor_count(g: &Digraph, v: usize) -> usize {
    let r = g.reversed();
    bfs(&r, v).dist.iter().filter(|d| d.is_some()).count() - 1
}

fn descendant_count(g: &Digraph, v: usize) -> usize {
    bfs(g, v).dist.iter().filter(|d| d.is_some()).count() - 1
}

/// Checks every property the issue asks for; returns whether the ids are out of
/// topological order (some edge goes from a larger id to a smaller one).
fn check(t: &ReachTask, range: HopRange, max_nodes: usize) -> bool {
    let g = &t.graph;
    assert!(solve_task(t).correct);
    assert!(g.n() <= max_nodes, "{} nodes > {max_nodes}", g.n());
    assert!(range.contains(t.hops()), "hops {} not in {range}", t.hops());
    let indeg = g.in_degrees();
    let sources: Vec<usize> = (0..g.n()).filter(|&v| indeg[v] == 0).collect();
    assert_eq!(sources.len(), 2, "two in-degree-0 nodes");
    assert!(sources.contains(&t.root));
    let decoy = sources.into_iter().find(|&v| v != t.root).unwrap();
    let (from_root, from_decoy) = (bfs(g, t.root), bfs(g, decoy));
    assert!(from_root.reachable(t.target) && !from_root.reachable(t.distractor));
    assert!(from_decoy.reachable(t.distractor) && !from_decoy.reachable(t.target));
    assert_eq!(from_root.dist[t.target], from_decoy.dist[t.distractor]);
    assert!(g.out(t.target).is_empty() && g.out(t.distractor).is_empty());
    assert_eq!(indeg[t.target], indeg[t.distractor]);
    assert_eq!(ancestor_count(g, t.target), ancestor_count(g, t.distractor));
    assert_eq!(descendant_count(g, t.root), descendant_count(g, decoy));
    // Every node hangs below one of the two roots.
    assert!((0..g.n()).all(|v| from_root.reachable(v) || from_decoy.reachable(v)));
    g.edges().iter().any(|&(u, v)| u > v)
}

#[test]
fn twin_tasks_have_every_stated_property() {
    let p = TwinParams::default();
    let mut unordered = 0;
    let mut total = 0;
    for (range, seed) in [("3-4", 1), ("1-2", 2), ("5-8", 3), ("8", 4)] {
        let range: HopRange = range.parse().unwrap();
        let tasks = generate(&Family::Twin(p.clone()), 150, seed, Some(range)).unwrap();
        let mut hist = [0usize; 9];
        for t in &tasks {
            unordered += check(t, range, p.max_nodes) as usize;
            total += 1;
            hist[t.hops()] += 1;
        }
        // The depth is drawn uniformly from the range: every hop count shows up.
        for h in range.min..=range.max {
            assert!(
                hist[h] >= 150 / (range.max - range.min + 1) / 2,
                "{range}: {hist:?}"
            );
        }
    }
    assert!(unordered > total * 9 / 10, "{unordered} of {total}");
}

#[test]
fn twin_defaults_give_prosqa_sized_graphs_with_cross_edges() {
    let tasks = generate(&Family::with_defaults("twin").unwrap(), 400, 5, None).unwrap();
    let nodes: Vec<usize> = tasks.iter().map(|t| t.graph.n()).collect();
    assert!(nodes.iter().all(|&n| (14..=26).contains(&n)), "{nodes:?}");
    assert!(tasks.iter().all(|t| (3..=4).contains(&t.hops())));
    // Some graphs have a node reachable from both roots (a cross edge), not all.
    let crossed = tasks
        .iter()
        .filter(|t| {
            let g = &t.graph;
            let indeg = g.in_degrees();
            let decoy = (0..g.n()).find(|&v| indeg[v] == 0 && v != t.root).unwrap();
            let (a, b) = (bfs(g, t.root), bfs(g, decoy));
            (0..g.n()).any(|v| a.reachable(v) && b.reachable(v))
        })
        .count();
    assert!(crossed > 100 && crossed < 400, "{crossed}");
}

#[test]
fn twin_is_deterministic_and_round_trips() {
    let f = Family::Twin(TwinParams::default());
    let a = generate(&f, 30, 9, Some("2-6".parse().unwrap())).unwrap();
    assert_eq!(
        a,
        generate(&f, 30, 9, Some("2-6".parse().unwrap())).unwrap()
    );
    assert_ne!(
        a,
        generate(&f, 30, 10, Some("2-6".parse().unwrap())).unwrap()
    );
    let records: Vec<CoconutRecord> = a.iter().map(CoconutRecord::from_task).collect();
    let back: Vec<ReachTask> = parse_records(&records_to_json(&records), "t.json".as_ref())
        .unwrap()
        .iter()
        .map(|r| r.to_task().unwrap())
        .collect();
    assert_eq!(back, a);
    assert!(a.iter().all(|t| t.neighbor_k.is_some()));
}

#[test]
fn twin_rejects_impossible_parameters() {
    let f = Family::Twin(TwinParams::default());
    // 15 hops need 32 nodes; 14 fit in 30.
    assert!(generate(&f, 1, 0, Some("15".parse().unwrap())).is_err());
    assert!(generate(&f, 5, 0, Some("14".parse().unwrap())).is_ok());
    assert!(generate(&f, 1, 0, Some("0".parse().unwrap())).is_err());
    let bad = TwinParams {
        min_width: 4,
        max_width: 3,
        ..TwinParams::default()
    };
    assert!(generate(&Family::Twin(bad), 1, 0, None).is_err());
    let bad = TwinParams {
        p_cross: 1.5,
        ..TwinParams::default()
    };
    assert!(generate(&Family::Twin(bad), 1, 0, None).is_err());
}
