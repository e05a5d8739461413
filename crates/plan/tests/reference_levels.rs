//! The reference levels of `data/pddl/README.md` and `data/pddl/extra/README.md` hold exactly
//! for classic, EBL/DDB and SAT extraction, and every Graphplan plan validates on the lifted PDDL.

use superpose_plan::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl");

fn run(domain: &str, problem: &str) -> (Domain, Problem, GroundTask, GraphplanResult) {
    let (d, p, t) = load(format!("{DATA}/{domain}"), format!("{DATA}/{problem}")).expect("load");
    let r = graphplan(&t, &Limits::with_time(120.0));
    if let Outcome::Solved(plan) = &r.outcome {
        validate_plan(&d, &p, &plan.ipc_calls(&t)).expect("Graphplan plan validates");
    }
    (d, p, t, r)
}

/// (goals first present, first pairwise non-mutex, levels off, extraction fails at, plan level,
/// actions or None when the README's count is implementation-specific).
type Expect = (
    usize,
    usize,
    Option<usize>,
    Vec<usize>,
    usize,
    Option<usize>,
);

fn check(domain: &str, problem: &str, e: Expect) {
    let (_, _, _, r) = run(domain, problem);
    let s = &r.summary;
    let got = (
        s.goals_first_present,
        s.goals_first_non_mutex,
        s.leveled_off_at,
        s.extraction_failed_at.clone(),
        s.plan_level,
    );
    assert_eq!(
        got,
        (Some(e.0), Some(e.1), e.2, e.3, Some(e.4)),
        "{problem}: {s:?}"
    );
    let plan = r.outcome.plan().expect("solved");
    assert_eq!(plan.num_steps(), e.4, "{problem}: one step per level");
    if let Some(n) = e.5 {
        assert_eq!(plan.len(), n, "{problem}: plan length");
    }
    // EBL/DDB searches the same graph completely at each level: the same levels fail, the plan
    // sits at the same level and validates.
    let (d, p, t) = load(format!("{DATA}/{domain}"), format!("{DATA}/{problem}")).unwrap();
    let ebl = graphplan_ebl(&t, &Limits::with_time(120.0));
    let s = &ebl.summary;
    assert_eq!(
        (
            s.goals_first_present,
            s.goals_first_non_mutex,
            s.leveled_off_at,
            s.extraction_failed_at.clone(),
            s.plan_level,
        ),
        got,
        "{problem} (EBL/DDB): {s:?}"
    );
    let plan = ebl.outcome.plan().expect("EBL/DDB solves it");
    assert_eq!(plan.num_steps(), e.4);
    validate_plan(&d, &p, &plan.ipc_calls(&t)).expect("EBL/DDB plan validates");
    // SAT extraction decides the same stages: UNSAT exactly where the searches fail.
    let sat = graphplan_sat(&t, &Limits::with_time(120.0));
    let s = &sat.summary;
    assert_eq!(
        (
            s.goals_first_present,
            s.goals_first_non_mutex,
            s.leveled_off_at,
            s.extraction_failed_at.clone(),
            s.plan_level,
        ),
        got,
        "{problem} (SAT): {s:?}"
    );
    for l in &sat.levels {
        let answer = l.sat.as_ref().map(|st| st.answer);
        let expect = match l.extraction {
            Extraction::NotTried => None,
            Extraction::Failed => Some(sat::SatAnswer::Unsat),
            Extraction::Succeeded => Some(sat::SatAnswer::Sat),
        };
        assert_eq!(answer, expect, "{problem} (SAT) level {}", l.level);
    }
    let plan = sat.outcome.plan().expect("SAT solves it");
    assert_eq!(plan.num_steps(), e.4);
    validate_plan(&d, &p, &plan.ipc_calls(&t)).expect("SAT plan validates");
}

#[test]
fn blocks_4_0() {
    check(
        "blocks/domain.pddl",
        "blocks/probBLOCKS-4-0.pddl",
        (2, 4, Some(4), vec![4, 5], 6, Some(6)),
    );
}

#[test]
fn blocks_4_0_union_projection_against_exact_states() {
    // The notes' table C: 25 facts from level 2; mutex pairs 156, 132, 96 at levels 2, 3, 4;
    // exact reachable states within k steps 5, 17, 41, 77, 101, 125 for k = 1..6.
    let (_, _, t, r) = run("blocks/domain.pddl", "blocks/probBLOCKS-4-0.pddl");
    let rows: Vec<(usize, usize)> = r.levels[2..]
        .iter()
        .map(|l| (l.facts, l.fact_mutex_pairs))
        .collect();
    assert_eq!(
        rows,
        vec![(25, 156), (25, 132), (25, 96), (25, 96), (25, 96)]
    );
    let ex = exact_reachable_by_level(&t, 6, 10_000);
    let states: Vec<usize> = ex.levels.iter().map(|l| l.states).collect();
    assert_eq!(states, vec![1, 5, 17, 41, 77, 101, 125]);
    // The union covers the goals at 2, all pairs co-occur at 4, the first goal state is at 6.
    let first = |f: fn(&ExactLevel) -> bool| ex.levels.iter().position(f);
    assert_eq!(first(|l| l.goals_covered), Some(2));
    assert_eq!(first(|l| l.goal_pairs_cooccur), Some(4));
    assert_eq!(first(|l| l.goal_state), Some(6));
}

#[test]
fn blocks_4_2() {
    check(
        "blocks/domain.pddl",
        "blocks/probBLOCKS-4-2.pddl",
        (4, 6, None, vec![], 6, Some(6)),
    );
}

#[test]
fn blocks_5_0() {
    check(
        "blocks/domain.pddl",
        "blocks/probBLOCKS-5-0.pddl",
        (8, 10, Some(10), vec![10, 11], 12, Some(12)),
    );
}

#[test]
fn blocks_6_2() {
    check(
        "blocks/domain.pddl",
        "blocks/probBLOCKS-6-2.pddl",
        (12, 14, Some(14), (14..=19).collect(), 20, Some(20)),
    );
}

#[test]
fn gripper_prob01() {
    check(
        "gripper/domain.pddl",
        "gripper/prob01.pddl",
        (3, 3, Some(4), vec![3, 4, 5, 6], 7, None),
    );
}

/// SAT extraction with symmetry breaking (gripper's balls and grippers are interchangeable)
/// fails and succeeds at exactly the stages classic Graphplan does, and its plans validate.
#[test]
fn gripper_symmetry_breaking_keeps_every_stage() {
    for problem in ["gripper/prob02.pddl", "gripper/prob03.pddl"] {
        let (d, p, t, classic) = run("gripper/domain.pddl", problem);
        assert!(
            superpose_plan::symmetry::interchangeable_objects(&t).len() >= 2,
            "{problem}: balls and grippers form classes"
        );
        let sat = graphplan_sat(&t, &Limits::with_time(120.0));
        let (c, s) = (&classic.summary, &sat.summary);
        assert_eq!(
            (&s.extraction_failed_at, s.plan_level),
            (&c.extraction_failed_at, c.plan_level),
            "{problem}"
        );
        let plan = sat.outcome.plan().expect("SAT solves it");
        validate_plan(&d, &p, &plan.ipc_calls(&t)).expect("SAT plan validates");
    }
}

#[test]
fn miconic_s3_0() {
    check(
        "miconic/domain.pddl",
        "miconic/s3-0.pddl",
        (4, 6, Some(6), vec![6, 7], 8, None),
    );
}

#[test]
fn satellite_p01() {
    check(
        "satellite/domain.pddl",
        "satellite/p01-pfile1.pddl",
        (4, 6, Some(6), vec![6, 7], 8, None),
    );
}

#[test]
fn driverlog_p02() {
    check(
        "driverlog/domain.pddl",
        "driverlog/p02.pddl",
        (5, 6, Some(6), vec![6, 7, 8], 9, None),
    );
}

#[test]
fn zenotravel_p03() {
    check(
        "zenotravel/domain.pddl",
        "zenotravel/p03.pddl",
        (4, 4, Some(4), vec![4], 5, None),
    );
}

#[test]
fn logistics00_4_0() {
    check(
        "logistics00/domain.pddl",
        "logistics00/probLOGISTICS-4-0.pddl",
        (9, 9, None, vec![], 9, None),
    );
}

#[test]
fn depot_p01() {
    check(
        "depot/domain.pddl",
        "depot/p01.pddl",
        (5, 5, None, vec![], 5, None),
    );
}

#[test]
fn rovers_p01() {
    check(
        "rovers/domain.pddl",
        "rovers/p01.pddl",
        (4, 5, None, vec![], 5, None),
    );
}

#[test]
fn jobs_levels_off_before_the_plan() {
    check(
        "extra/jobs-domain.pddl",
        "extra/jobs-3-2.pddl",
        (2, 2, Some(2), vec![2, 3], 4, Some(6)),
    );
    let (_, _, t, r) = run("extra/jobs-domain.pddl", "extra/jobs-3-2.pddl");
    // The notes' table: 5 facts at 0; 11 facts, 21 mutex pairs at 1; 14 and 30 from 2 on.
    let rows: Vec<(usize, usize)> = r
        .levels
        .iter()
        .map(|l| (l.facts, l.fact_mutex_pairs))
        .collect();
    assert_eq!(rows, vec![(5, 0), (11, 21), (14, 30), (14, 30), (14, 30)]);
    // Exact projection: 31 states within 2 steps, all goal pairs co-occur, no goal state;
    // the first goal state appears within 4 steps (44 states).
    let ex = exact_reachable_by_level(&t, 4, 100_000);
    let l2 = &ex.levels[2];
    assert_eq!(
        (
            l2.states,
            l2.goals_covered,
            l2.goal_pairs_cooccur,
            l2.goal_state
        ),
        (31, true, true, false)
    );
    assert!(!ex.levels[3].goal_state);
    assert_eq!((ex.levels[4].states, ex.levels[4].goal_state), (44, true));
}

#[test]
fn pigeonhole_is_unsolvable_by_memo_fixpoint() {
    let (_, _, t, r) = run("extra/hole-domain.pddl", "extra/holes-3-2.pddl");
    let s = &r.summary;
    assert_eq!(
        (
            s.goals_first_present,
            s.goals_first_non_mutex,
            s.leveled_off_at
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(s.extraction_failed_at, vec![1, 2, 3]);
    assert_eq!(s.unsolvable_at, Some(3));
    assert!(
        matches!(r.outcome, Outcome::Unsolvable { stage: 3, .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!((r.levels[1].facts, r.levels[1].fact_mutex_pairs), (8, 3));
    // SAT: UNSAT at every stage; no memo to reach a fixpoint, so the proof past the level-off
    // is the exhausted state space.
    let sat = graphplan_sat(&t, &Limits::with_time(60.0));
    assert!(
        matches!(&sat.outcome, Outcome::Unsolvable { stage: 2, reason } if reason.contains("exhausted")),
        "{:?}",
        sat.outcome
    );
    assert_eq!(sat.summary.extraction_failed_at, vec![1, 2]);
    assert!(sat.levels[1..]
        .iter()
        .all(|l| l.sat.as_ref().map(|s| s.answer) == Some(sat::SatAnswer::Unsat)));
    let ex = exact_reachable_by_level(&t, 10, 1000);
    assert!(ex.exhausted);
    let last = ex.levels.last().unwrap();
    assert_eq!(
        (last.states, last.goal_pairs_cooccur, last.goal_state),
        (10, true, false)
    );
}

#[test]
fn sussman_goals_mutex_at_4_and_5() {
    check(
        "blocks/domain.pddl",
        "extra/sussman.pddl",
        (4, 6, None, vec![], 6, Some(6)),
    );
    let (_, _, _, r) = run("blocks/domain.pddl", "extra/sussman.pddl");
    assert!(r.levels[4].goals_present && !r.levels[4].goals_non_mutex);
    assert!(r.levels[5].goals_present && !r.levels[5].goals_non_mutex);
}

#[test]
fn cake_goals_mutex_at_1() {
    check(
        "extra/cake-domain.pddl",
        "extra/cake.pddl",
        (1, 2, None, vec![], 2, Some(2)),
    );
}

#[test]
fn spare_tire_solved_at_2() {
    check(
        "extra/tire-domain.pddl",
        "extra/tire.pddl",
        (2, 2, None, vec![], 2, Some(3)),
    );
}

#[test]
fn hw_mutex_propagation() {
    check(
        "extra/hw-domain.pddl",
        "extra/hw.pddl",
        (1, 2, None, vec![], 2, Some(2)),
    );
    let (_, _, t, r) = run("extra/hw-domain.pddl", "extra/hw.pddl");
    let plan = r.outcome.plan().unwrap();
    assert_eq!(plan.ipc_calls(&t), vec!["(a2)", "(a1)"]);
}
