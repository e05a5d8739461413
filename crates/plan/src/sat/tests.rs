//! Tests of the SAT extractor against the forward encoding, the whole graph and known answers.

use super::*;

/// An extractor with no graph behind it, for the clause builders alone.
fn bare(vars: i32) -> SatExtractor {
    SatExtractor {
        solver: cadical::Solver::new(),
        fact_var: Vec::new(),
        op_var: Vec::new(),
        vars,
        clauses: 0,
        need: Vec::new(),
        adds: Vec::new(),
        dels: Vec::new(),
        stamp: Vec::new(),
        epoch: 0,
        stages: Vec::new(),
        clause_buf: Vec::new(),
        classes: Vec::new(),
        used: Vec::new(),
        cone: None,
        first_stage: FirstStage::ConeThenWhole,
        split: Rc::default(),
        n_ops: 0,
        goal: None,
        growth: SatGrowth::Forward,
    }
}

/// Is the assignment "exactly the variables `1..=n` in `mask` true" consistent with the
/// clauses (auxiliary variables free)?
fn allows(s: &mut SatExtractor, n: i32, mask: u32) -> bool {
    let assumptions: Vec<i32> = (1..=n).map(|v| lit(v, mask >> (v - 1) & 1 == 1)).collect();
    s.solver.solve_with(assumptions) == Some(true)
}

/// A problem of the shared suite (`data/pddl/DOMAIN/PROBLEM.pddl`), loaded and grounded.
fn suite_task(domain: &str, problem: &str) -> (crate::Domain, crate::Problem, GroundTask) {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/pddl");
    crate::load(
        format!("{data}/{domain}/domain.pddl"),
        format!("{data}/{domain}/{problem}.pddl"),
    )
    .unwrap()
}

/// Validate decoded steps (graph operator indices) as a plan of the task (`label` names it
/// in the panic).
fn validate_steps(
    (d, p, task): &(&crate::Domain, &crate::Problem, &GroundTask),
    g: &PlanningGraph,
    steps: Vec<Vec<u32>>,
    label: &str,
) {
    let plan = crate::Plan {
        steps: steps
            .into_iter()
            .map(|s| s.into_iter().map(|op| op as usize - g.n_facts).collect())
            .collect(),
    };
    crate::validate_plan(d, p, &plan.ipc_calls(task)).unwrap_or_else(|e| panic!("{label}: {e}"));
}

/// Would Graphplan extract at stage `t`: the goals present in `P_t` and pairwise non-mutex?
fn extraction_runs(g: &PlanningGraph, t: usize, goals: &[u32]) -> bool {
    g.all_present(t, goals) && g.pairwise_non_mutex(t, goals)
}

#[test]
fn the_cone_gives_the_whole_graphs_answer_at_every_stage() {
    let problems = [
        ("gripper", "prob01"),
        ("blocks", "probBLOCKS-5-0"),
        ("logistics98", "prob01"),
        ("miconic", "s3-0"),
        ("depot", "p01"),
        ("freecell", "p01"),
    ];
    for (domain, problem) in problems {
        let (d, p, task) = suite_task(domain, problem);
        let prep = SatTask::new(&task, SatActions::Direct);
        let mut g = PlanningGraph::new(&task);
        let mut smaller = false;
        for t in 1.. {
            g.expand(usize::MAX, None).unwrap();
            if !extraction_runs(&g, t, &task.goal) {
                continue;
            }
            let cone = Cone::new(&g, t, &task.goal);
            let (cone_facts, cone_ops) = cone.size();
            let whole_facts: usize = (0..=t).map(|i| g.level(i).facts.count_ones(..)).sum();
            let whole_ops: usize = (0..t).map(|i| g.level(i).num_actions).sum();
            assert!(cone_facts <= whole_facts && cone_ops <= whole_ops);
            smaller |= cone_ops < whole_ops;
            let mut answers = Vec::new();
            for c in [None, Some(cone)] {
                let mut s = SatExtractor::new(&g, &prep);
                s.restart(&g, c);
                let (steps, stage) = s.solve_stage(&g, None, t, &task.goal);
                if let Some(steps) = steps {
                    validate_steps(&(&d, &p, &task), &g, steps, &format!("{problem} {t}"));
                }
                answers.push(stage.answer);
            }
            assert_eq!(answers[0], answers[1], "{domain} {problem} stage {t}");
            if answers[0] == SatAnswer::Sat {
                break;
            }
        }
        assert!(smaller, "{domain} {problem}: the cone left nothing out");
    }
}

#[test]
fn models_start_from_the_initial_state() {
    // Every initial fact is true at level 0 in the model of the first satisfiable stage
    // (before the units, a fact no plan step needed was free there, and CaDiCaL's phase
    // left it false), and the stage with one of them assumed false has no model.
    for (domain, problem) in [
        ("logistics98", "prob01"),
        ("depot", "p01"),
        ("gripper", "prob01"),
    ] {
        let (_, _, task) = suite_task(domain, problem);
        let prep = SatTask::new(&task, SatActions::Split);
        let mut g = PlanningGraph::new(&task);
        let mut s = SatExtractor::new(&g, &prep);
        s.restart(&g, None);
        let init: Vec<usize> = g.level(0).facts.ones().collect();
        let mut checked = false;
        for t in 1..=30 {
            g.expand(usize::MAX, None).unwrap();
            if !extraction_runs(&g, t, &task.goal) {
                continue;
            }
            let (steps, stage) = s.solve_stage(&g, None, t, &task.goal);
            if steps.is_none() {
                assert_eq!(stage.answer, SatAnswer::Unsat);
                continue;
            }
            for &f in &init {
                let v = s.fact_var[0][f];
                assert!(
                    s.holds(v),
                    "{domain} {problem}: initial fact {f} false at level 0"
                );
            }
            let goals = s.assumptions(t, &task.goal);
            for &f in &init {
                let mut assumptions = goals.clone();
                assumptions.push(lit(s.fact_var[0][f], false));
                let answer = s.solver.solve_with(assumptions);
                assert_eq!(answer, Some(false), "{domain} {problem}: fact {f}");
            }
            checked = true;
            break;
        }
        assert!(checked, "{domain} {problem}: no satisfiable stage up to 30");
    }
}

#[test]
fn split_components_give_the_direct_answer_at_every_stage() {
    let problems = [
        ("miconic", "s3-0"),
        ("miconic", "s4-2"),
        ("freecell", "p01"),
        ("blocks", "probBLOCKS-5-0"),
    ];
    for (domain, problem) in problems {
        let (d, p, task) = suite_task(domain, problem);
        let preps = [
            SatTask::new(&task, SatActions::Direct),
            SatTask::new(&task, SatActions::Split),
        ];
        let mut g = PlanningGraph::new(&task);
        let mut fewer = false;
        for t in 1.. {
            g.expand(usize::MAX, None).unwrap();
            if !extraction_runs(&g, t, &task.goal) {
                continue;
            }
            let mut answers = Vec::new();
            let mut vars = Vec::new();
            for prep in &preps {
                let mut s = SatExtractor::new(&g, prep);
                s.restart(&g, None);
                let (steps, stage) = s.solve_stage(&g, None, t, &task.goal);
                if let Some(steps) = steps {
                    assert_eq!(steps.len(), t);
                    validate_steps(&(&d, &p, &task), &g, steps, &format!("{problem} {t}"));
                }
                answers.push(stage.answer);
                vars.push(s.op_var.iter().map(Vec::len).sum::<usize>());
            }
            assert_eq!(answers[0], answers[1], "{domain} {problem} stage {t}");
            fewer |= vars[1] < vars[0];
            if answers[0] == SatAnswer::Sat {
                break;
            }
        }
        // Blocks' schemas name their objects together: nothing splits there.
        assert_eq!(fewer, domain != "blocks", "{domain} {problem}");
    }
}

#[test]
fn the_double_ended_encoding_gives_the_forward_answer_at_every_stage() {
    // Each graph levels off at least GOAL_BLOCK_ROWS stages before the plan's level, so the
    // goal block reaches its depth and the initial-state block grows under it; gripper's
    // balls and grippers exercise the symmetry chain through the join.
    let problems = [
        ("miconic", "s4-2"),
        ("miconic", "s5-0"),
        ("gripper", "prob02"),
        ("gripper", "prob03"),
    ];
    for (domain, problem) in problems {
        let (d, p, task) = suite_task(domain, problem);
        let mut g = PlanningGraph::new(&task);
        let mut solvers: Vec<SatExtractor> = [SatGrowth::Forward, SatGrowth::DoubleEnded]
            .into_iter()
            .map(|growth| {
                let prep = SatTask {
                    growth,
                    ..SatTask::new(&task, SatActions::Split)
                };
                let mut s = SatExtractor::new(&g, &prep);
                s.restart(&g, None);
                s
            })
            .collect();
        let mut unsat_after_join = 0;
        let mut t_plan = 0;
        for t in 1..60 {
            g.expand(usize::MAX, None).unwrap();
            if !extraction_runs(&g, t, &task.goal) {
                continue;
            }
            let mut answers = Vec::new();
            for s in &mut solvers {
                let (steps, stage) = s.solve_stage(&g, None, t, &task.goal);
                if let Some(steps) = steps {
                    assert_eq!(steps.len(), t);
                    validate_steps(&(&d, &p, &task), &g, steps, &format!("{problem} {t}"));
                }
                answers.push(stage.answer);
            }
            assert_eq!(answers[0], answers[1], "{domain} {problem} stage {t}");
            if answers[0] == SatAnswer::Sat {
                t_plan = t;
                break;
            }
            if solvers[1].goal.as_ref().is_some_and(|b| b.join != 0) {
                unsat_after_join += 1;
            }
        }
        let block = solvers[1].goal.as_ref().expect("the graph levelled off");
        assert!(solvers[0].goal.is_none());
        // The block reached its depth, and later UNSAT stages grew the initial-state block.
        assert_eq!(block.rows.len(), GOAL_BLOCK_ROWS + 1, "{domain} {problem}");
        assert!(
            unsat_after_join > GOAL_BLOCK_ROWS,
            "{domain} {problem}: {unsat_after_join}"
        );
        // A stage asked again below the block (never in a run) starts over, forward.
        let (_, again) = solvers[1].solve_stage(&g, None, t_plan - 1, &task.goal);
        assert_eq!(again.answer, SatAnswer::Unsat, "{domain} {problem} again");
        assert!(solvers[1].goal.is_none());
        let (steps, _) = solvers[1].solve_stage(&g, None, t_plan, &task.goal);
        let steps = steps.expect("the plan after the restart");
        validate_steps(&(&d, &p, &task), &g, steps, &format!("{problem} again"));
    }
}

#[test]
fn actions_that_can_run_together_keep_their_own_variables() {
    // Lamps: `(switch ?l ?h)` splits into a lamp part and a hand part. With two free hands,
    // two switches run in one step, so in that layer the schema is not encoded by its
    // components (they would allow one switch per step: a two-step plan). With one hand
    // busy at first, the switches of the first layer all need `(free h1)` and clash, and
    // the components stand for them there.
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    for (problem, steps) in [("lamps-two-hands", 1), ("lamps-busy-hand", 2)] {
        let (_, _, task) = crate::load(
            format!("{data}/lamps-domain.pddl"),
            format!("{data}/{problem}.pddl"),
        )
        .unwrap();
        // The objects are interchangeable: without symmetry clauses, so that `switch` splits.
        let prep = SatTask {
            symmetry: Vec::new(),
            split: Rc::new(Split::new(&task, &[])),
            growth: SatGrowth::default(),
        };
        assert!(!prep.split.is_empty(), "{problem}");
        let mut g = PlanningGraph::new(&task);
        let mut s = SatExtractor::new(&g, &prep);
        s.restart(&g, None);
        let mut components = 0;
        for t in 1..=steps {
            g.expand(usize::MAX, None).unwrap();
            if !extraction_runs(&g, t, &task.goal) {
                continue;
            }
            let (plan, stage) = s.solve_stage(&g, None, t, &task.goal);
            let expected = if t == steps {
                SatAnswer::Sat
            } else {
                SatAnswer::Unsat
            };
            assert_eq!(stage.answer, expected, "{problem} stage {t}");
            assert_eq!(plan.is_some(), t == steps);
        }
        for layer in &s.op_var {
            components += layer
                .iter()
                .filter(|&&(u, _)| u as usize >= s.n_ops)
                .count();
        }
        assert_eq!(components > 0, problem == "lamps-busy-hand", "{problem}");
    }
}

#[test]
fn at_most_one_allows_exactly_the_sets_of_size_at_most_one() {
    // Both forms: pairwise (n <= 5) and the sequential counter.
    for n in 1..=9 {
        let mut s = bare(n);
        let vs: Vec<i32> = (1..=n).collect();
        s.at_most_one(&vs);
        for mask in 0..1u32 << n {
            assert_eq!(
                allows(&mut s, n, mask),
                mask.count_ones() <= 1,
                "n={n} mask={mask:b}"
            );
        }
    }
}

#[test]
fn exclude_sides_forbids_exactly_the_cross_pairs() {
    // (1, 2) and (2, 2) take the pairs, the others the two auxiliary variables.
    for (a, b) in [(1, 1), (1, 2), (2, 2), (1, 6), (3, 4), (4, 4)] {
        let n = a + b;
        let mut s = bare(n);
        let xs: Vec<i32> = (1..=a).collect();
        let ys: Vec<i32> = (a + 1..=n).collect();
        s.exclude_sides(&xs, &ys);
        let x_mask = (1u32 << a) - 1;
        for mask in 0..1u32 << n {
            let cross = mask & x_mask != 0 && mask & !x_mask != 0;
            assert_eq!(allows(&mut s, n, mask), !cross, "{a}x{b} mask={mask:b}");
        }
    }
}
