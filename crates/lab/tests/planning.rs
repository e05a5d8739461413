//! The planning experiments in quick mode: expected columns, and every level / count equal to
//! what the plan crate reports for the same embedded problem.

use superpose_lab::data::PROBLEMS;
use superpose_lab::experiments::{plan_spurious, union_states};
use superpose_lab::{run_experiment, ExperimentId, RunOptions, Status};
use superpose_plan::pddl::{parse_domain_str, parse_problem_str};
use superpose_plan::{
    exact_reachable_by_level, graphplan, ground, relaxed_goal_level, GroundTask, Limits,
};

fn quick() -> RunOptions {
    RunOptions {
        quick: true,
        progress: false,
        ..RunOptions::default()
    }
}

fn task(name: &str) -> GroundTask {
    let p = PROBLEMS.iter().find(|p| p.name == name).unwrap();
    let d = parse_domain_str(p.domain, "domain").unwrap();
    let q = parse_problem_str(p.problem, "problem").unwrap();
    ground(&d, &q).unwrap()
}

fn num(v: Option<&serde_json::Value>) -> Option<u64> {
    v.and_then(|v| v.as_u64())
}

#[test]
fn plan_spurious_reach_matches_the_plan_crate() {
    let r = run_experiment(ExperimentId::PlanSpuriousReach, &quick()).unwrap();
    assert_eq!(r.status, Status::Ok);
    let names: Vec<&str> = r.table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        plan_spurious::COLUMNS
            .iter()
            .map(|c| c.0)
            .collect::<Vec<_>>()
    );
    assert_eq!(r.table.rows.len(), PROBLEMS.len());
    let json = r.to_json();
    for (i, p) in PROBLEMS.iter().enumerate() {
        assert_eq!(r.table.get(i, "problem").unwrap(), p.name);
        let t = task(p.name);
        let gp = graphplan(&t, &Limits::with_time(5.0));
        let s = &gp.summary;
        let row = &json["rows"][i];
        assert_eq!(row["status"], gp.outcome.status(), "{}", p.name);
        assert_eq!(
            num(Some(&row["goals_first_present"])),
            s.goals_first_present.map(|x| x as u64)
        );
        assert_eq!(
            num(Some(&row["goals_first_non_mutex"])),
            s.goals_first_non_mutex.map(|x| x as u64)
        );
        assert_eq!(
            num(Some(&row["leveled_off_at"])),
            s.leveled_off_at.map(|x| x as u64)
        );
        assert_eq!(
            num(Some(&row["plan_level"])),
            s.plan_level.map(|x| x as u64),
            "{}",
            p.name
        );
        assert_eq!(
            num(Some(&row["failed_extractions"])),
            Some(s.extraction_failed_at.len() as u64),
            "{}",
            p.name
        );
        assert_eq!(
            num(Some(&row["plan_actions"])),
            gp.outcome.plan().map(|p| p.len() as u64)
        );
        assert_eq!(
            num(Some(&row["extraction_nodes"])),
            Some(gp.levels.iter().map(|l| l.search_nodes).sum::<u64>()),
            "search is deterministic"
        );
        assert_eq!(num(Some(&row["facts"])), Some(t.num_facts() as u64));
        let share = row["extraction_share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
    }
    // the data README's reference levels (jobs-3-2: present and non-mutex at 2, plan at 4;
    // pigeonhole: unsolvable at stage 3; BLOCKS-4-0: 2 / 4 / plan 6)
    let row = |name: &str| {
        let i = PROBLEMS.iter().position(|p| p.name == name).unwrap();
        json["rows"][i].clone()
    };
    let jobs = row("extra/jobs-3-2");
    assert_eq!(jobs["goals_first_non_mutex"], 2);
    assert_eq!(jobs["plan_level"], 4);
    assert_eq!(jobs["spurious_levels"], 2);
    assert_eq!(jobs["exact_goal_level"], 4);
    assert_eq!(jobs["exact_states_at_plan"], 44);
    assert_eq!(row("extra/holes-3-2")["status"], "unsolvable");
    let b = row("blocks/probBLOCKS-4-0");
    assert_eq!(
        (
            b["goals_first_present"].clone(),
            b["goals_first_non_mutex"].clone(),
            b["plan_level"].clone()
        ),
        (2.into(), 4.into(), 6.into())
    );
    assert_eq!(b["exact_states_at_plan"], 125);
    // the per-level table has one row per level built
    let levels = &r.extra_tables[0];
    let jobs_levels = (0..levels.rows.len())
        .filter(|&k| levels.get(k, "problem").unwrap() == "extra/jobs-3-2")
        .count();
    assert_eq!(
        jobs_levels,
        graphplan(&task("extra/jobs-3-2"), &Limits::default())
            .levels
            .len()
    );
    assert_eq!(r.plots.len(), 3);
}

#[test]
fn union_vs_states_matches_the_plan_crate() {
    let r = run_experiment(ExperimentId::UnionVsStates, &quick()).unwrap();
    assert_eq!(r.status, Status::Ok);
    let names: Vec<&str> = r.table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        union_states::COLUMNS
            .iter()
            .map(|c| c.0)
            .collect::<Vec<_>>()
    );
    assert!(r.table.rows.len() >= 10);
    let json = r.to_json();
    for row in json["rows"].as_array().unwrap() {
        let name = row["problem"].as_str().unwrap();
        let t = task(name);
        assert_eq!(row["facts"], t.num_facts());
        assert_eq!(
            num(Some(&row["relaxed_union_level"])),
            relaxed_goal_level(&t).map(|x| x as u64)
        );
        let gp = graphplan(&t, &Limits::with_time(5.0));
        assert_eq!(
            num(Some(&row["mutex_union_level"])),
            gp.summary.goals_first_non_mutex.map(|x| x as u64)
        );
        if let Some(level) = row["exact_goal_level"].as_u64() {
            let ex = exact_reachable_by_level(&t, level as usize, 1_000_000);
            let first = ex
                .levels
                .iter()
                .find(|l| l.goal_state)
                .map(|l| l.level as u64);
            assert_eq!(first, Some(level), "{name}");
            assert_eq!(
                row["states_at_goal_level"],
                ex.levels[level as usize].states
            );
            // the relaxed union never claims later than the truth
            assert!(row["relaxed_union_level"].as_u64().unwrap() <= level);
            // Graphplan's plan level is the first level with a goal state (shortest parallel plan)
            assert_eq!(row["plan_level"].as_u64(), Some(level), "{name}");
        }
    }
    let holes = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["problem"] == "extra/holes-3-2")
        .unwrap()
        .clone();
    assert_eq!(holes["reachable_states"], 10);
    assert!(holes["exact_goal_level"].is_null());
}
