//! Generators: ProsQA matches the shared split's Table-2 statistics; every family yields
//! valid, labelled, deterministic tasks.

use superpose_graph::generate::{generate, Family, HopRange, ProsqaParams, FAMILY_NAMES};
use superpose_graph::prosqa::{
    parse_records, read_tasks, records_to_json, steps_path, CoconutRecord,
};
use superpose_graph::solve::{bfs, is_shortest_path, neighbor_k, solve_task};
use superpose_graph::stats::table2_stats;
use superpose_graph::ReachTask;

const COCONUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/prosqa/prosqa_valid.json"
);

#[test]
fn prosqa_generator_matches_shared_validation_split_within_10_percent() {
    let shared = table2_stats(&read_tasks(COCONUT).unwrap());
    let generated = generate(&Family::Prosqa(ProsqaParams::default()), 2000, 7, None).unwrap();
    let ours = table2_stats(&generated);
    assert_eq!(ours.tasks, 2000);
    eprintln!("shared:    {shared:?}\ngenerated: {ours:?}");
    for (what, a, b) in [
        ("nodes", ours.mean_nodes, shared.mean_nodes),
        ("edges", ours.mean_edges, shared.mean_edges),
        (
            "shortest-path length",
            ours.mean_shortest_path_len,
            shared.mean_shortest_path_len,
        ),
        (
            "number of shortest paths",
            ours.mean_num_shortest_paths,
            shared.mean_num_shortest_paths,
        ),
    ] {
        let rel = (a - b).abs() / b;
        assert!(
            rel < 0.10,
            "{what}: generated {a:.3} vs shared {b:.3} ({:.1}%)",
            rel * 100.0
        );
    }
}

fn check_task(t: &ReachTask) {
    let a = solve_task(t);
    assert!(a.correct, "target must be the unique reachable candidate");
    assert!(is_shortest_path(&t.graph, t.root, t.target, &t.gold_path));
    assert_eq!(
        t.neighbor_k.as_deref(),
        neighbor_k(&t.graph, t.root, t.target).as_deref()
    );
    // The Coconut text spells out the gold path and the question.
    let names = t.graph.names().expect("generated tasks are named");
    let text = t.coconut.as_ref().expect("generated tasks have text");
    assert_eq!(steps_path(&text.steps, names).as_ref(), Some(&t.gold_path));
    let [c1, c2] = t.candidates();
    let q = format!("Is {} a {} or {}?", names[t.root], names[c1], names[c2]);
    assert!(text.question.ends_with(&q), "{}", text.question);
    assert_eq!(text.question.matches(" is a ").count(), t.graph.num_edges());
    let mut unique = names.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "names must be distinct");
    assert!(names[t.root].chars().next().unwrap().is_uppercase());
}

#[test]
fn every_family_gives_valid_tasks_that_round_trip_through_records() {
    for name in FAMILY_NAMES {
        let family = Family::with_defaults(name).unwrap();
        let tasks = generate(&family, 60, 3, None).unwrap();
        assert_eq!(tasks.len(), 60);
        for t in &tasks {
            check_task(t);
        }
        let records: Vec<CoconutRecord> = tasks.iter().map(CoconutRecord::from_task).collect();
        let json = records_to_json(&records);
        let back: Vec<ReachTask> = parse_records(&json, std::path::Path::new("gen.json"))
            .unwrap()
            .iter()
            .map(|r| r.to_task().unwrap())
            .collect();
        assert_eq!(back, tasks, "{name}");
    }
}

#[test]
fn generation_is_deterministic_given_the_seed() {
    for name in FAMILY_NAMES {
        let family = Family::with_defaults(name).unwrap();
        let a = generate(&family, 20, 11, None).unwrap();
        let b = generate(&family, 20, 11, None).unwrap();
        let c = generate(&family, 20, 12, None).unwrap();
        assert_eq!(a, b, "{name}");
        assert_ne!(a, c, "{name}");
    }
}

#[test]
fn hop_filter_is_respected() {
    let hops: HopRange = "3-4".parse().unwrap();
    let tasks = generate(
        &Family::with_defaults("prosqa").unwrap(),
        300,
        5,
        Some(hops),
    )
    .unwrap();
    assert!(tasks.iter().all(|t| (3..=4).contains(&t.hops())));
    let five: HopRange = "5".parse().unwrap();
    let tasks = generate(
        &Family::with_defaults("erdos-renyi").unwrap(),
        50,
        5,
        Some(five),
    )
    .unwrap();
    assert!(tasks.iter().all(|t| t.hops() == 5));
    assert!("4-3".parse::<HopRange>().is_err());
    assert!("x".parse::<HopRange>().is_err());
    // An impossible filter fails with an error instead of looping.
    let never: HopRange = "50-60".parse().unwrap();
    assert!(generate(&Family::Chain { n: 5 }, 3, 1, Some(never)).is_err());
}

#[test]
fn chain_has_diameter_n_minus_1() {
    let tasks = generate(&Family::Chain { n: 12 }, 5, 1, None).unwrap();
    for t in tasks {
        assert_eq!(t.hops(), 11);
        assert_eq!(superpose_graph::solve::diameter(&t.graph).value, 11);
        assert_eq!(
            superpose_graph::solve::eccentricity(&t.graph, t.root).value,
            11
        );
    }
}

#[test]
fn layered_and_grid_answers_have_the_expected_length() {
    let tasks = generate(
        &Family::Layered {
            width: 3,
            depth: 6,
            p: 0.5,
        },
        20,
        2,
        None,
    )
    .unwrap();
    assert!(tasks.iter().all(|t| t.hops() == 5 && t.graph.n() == 18));
    let tasks = generate(&Family::Grid { rows: 5, cols: 7 }, 20, 2, None).unwrap();
    for t in tasks {
        // Edges go right and down, so the distance to the far corner is the Manhattan
        // distance, and the number of shortest paths is a binomial coefficient.
        let b = bfs(&t.graph, t.root);
        let d = t.hops();
        let binom = |n: u64, k: u64| (1..=k).fold(1u64, |acc, i| acc * (n + 1 - i) / i);
        let paths = b.num_shortest_paths[t.target];
        assert!(
            (0..=d as u64)
                .filter(|&down| down <= 4 && d as u64 - down <= 6)
                .any(|down| binom(d as u64, down) == paths),
            "{paths} shortest paths over {d} hops is no binomial coefficient"
        );
        assert!((2..=10).contains(&d));
        assert_eq!(t.graph.num_edges(), 5 * 6 + 4 * 7);
    }
}

#[test]
fn near_miss_distractor_is_one_edge_from_reachable_at_the_same_depth() {
    let tasks = generate(&Family::with_defaults("near-miss").unwrap(), 30, 9, None).unwrap();
    for t in tasks {
        let n = t.graph.n();
        let b = bfs(&t.graph, t.root);
        let mut found = false;
        'outer: for u in (0..n).filter(|&u| b.reachable(u)) {
            for v in 0..n {
                if t.graph.has_edge(u, v) || v == t.root {
                    continue;
                }
                let mut g = t.graph.clone();
                g.add_edge(u, v);
                if bfs(&g, t.root).dist[t.distractor] == Some(4) {
                    found = true;
                    break 'outer;
                }
            }
        }
        assert!(
            found,
            "no single edge makes the distractor reachable in 4 hops"
        );
        assert_eq!(t.hops(), 4);
    }
}

#[test]
fn bad_parameters_are_errors() {
    assert!(generate(&Family::Chain { n: 1 }, 1, 0, None).is_err());
    assert!(generate(&Family::ErdosRenyi { n: 10, p: 1.5 }, 1, 0, None).is_err());
    let p = ProsqaParams {
        min_nodes: 10,
        max_nodes: 5,
        ..ProsqaParams::default()
    };
    assert!(generate(&Family::Prosqa(p), 1, 0, None).is_err());
}
