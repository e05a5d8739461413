//! `union-vs-states`: superposition over propositions vs superposition over states.
//!
//! A thought that superposes facts can hold at most the relaxed union of what is reachable
//! (the planning graph without mutexes, where every fact has one dimension); a thought that
//! superposes states is exact but needs one dimension per reachable state. This is the
//! Graphplan analogy (Kambhampati: the planning graph is a disjunctive, projected state
//! representation) made executable on small planning problems.

use serde_json::{json, Value};

use super::planning::{self, median, MeasureSettings, Measured};
use crate::plot::{category_chart, Axis, CategoryChart, CategoryStyle};
use crate::report::{ExperimentResult, Plot, Status};
use crate::table::{fmt_sig, table_row, Row, Table};
use crate::{progress_bar, ExperimentId, LabError, RunOptions};

table_row! {
    /// One small problem (the `results` table): where each representation claims the goal
    /// and the size each one needs.
    pub struct UnionRow {
        problem: String => ("", "domain folder / problem"),
        facts: usize => ("dimensions", "ground facts: the size of a superposition over facts"),
        relaxed_union_level: Option<usize> => (
            "level",
            "first level where the relaxed union (no deletes, no mutexes) holds every goal: where a fact superposition claims the goal"
        ),
        mutex_union_level: Option<usize> => (
            "level",
            "first level where the planning graph (union plus binary mutexes) has the goals pairwise non-mutex"
        ),
        exact_goal_level: Option<usize> => (
            "level",
            "first level where one reachable state holds every goal: where a state superposition claims the goal (the truth)"
        ),
        plan_level: Option<usize> => ("level", "Graphplan's plan level (parallel steps)"),
        states_at_goal_level: Option<usize> => (
            "dimensions",
            "states reachable within exact_goal_level steps: the size of a state superposition that can claim the goal"
        ),
        reachable_states: Option<usize> => (
            "dimensions",
            "all reachable states (when the enumeration finished)"
        ),
        states_per_fact: Option<f64> => (
            "ratio",
            "states_at_goal_level / facts (or reachable_states / facts when the goal is unreachable)"
        ),
        early_claim_levels: Option<i64> => ("levels", "exact_goal_level − relaxed_union_level"),
        exact_complete: bool => (
            "",
            "the enumeration ran to the needed level without hitting the state cap"
        ),
    }
}

/// The columns of the `results` table.
pub const COLUMNS: &[(&str, &str, &str)] = UnionRow::COLUMNS;

/// The row of a measured problem (None when no exact enumeration was run).
pub fn row(m: &Measured) -> Option<UnionRow> {
    let exact = m.exact.as_ref()?;
    let goal_level = m.exact_goal_level();
    let states_at_goal = goal_level.and_then(|l| m.exact_states_at(l));
    let total = m.total_states();
    let dim_states = states_at_goal.or(if goal_level.is_none() { total } else { None });
    let early = match (goal_level, m.relaxed_level) {
        (Some(e), Some(r)) => Some(e as i64 - r as i64),
        _ => None,
    };
    Some(UnionRow {
        problem: m.source.name.clone(),
        facts: m.task.num_facts(),
        relaxed_union_level: m.relaxed_level,
        mutex_union_level: m.gp.summary.goals_first_non_mutex,
        exact_goal_level: goal_level,
        plan_level: m.gp.summary.plan_level,
        states_at_goal_level: states_at_goal,
        reachable_states: total,
        states_per_fact: dim_states.map(|s| s as f64 / m.task.num_facts().max(1) as f64),
        early_claim_levels: early,
        exact_complete: !exact.truncated && (goal_level.is_some() || exact.exhausted),
    })
}

pub fn run(opts: &RunOptions) -> Result<ExperimentResult, LabError> {
    // Small problems only: the exact side enumerates states.
    let sources = if opts.quick {
        planning::embedded_problems()
    } else {
        planning::suite_problems(opts)?
    };
    let settings = MeasureSettings::for_run(opts);
    let (table, measured) = measure_small(sources, &settings, opts)?;
    if measured.is_empty() {
        return Ok(ExperimentResult::not_available(
            ExperimentId::UnionVsStates,
            opts.quick,
            "no problem small enough for exact state enumeration",
        ));
    }
    let plots = plots(&measured)?;
    let (interpretation, summary) = interpret(&measured, &settings);
    Ok(ExperimentResult {
        id: ExperimentId::UnionVsStates,
        status: Status::Ok,
        quick: opts.quick,
        params: json!({
            "problems": measured.len(),
            "exact_max_facts": settings.exact_max_facts,
            "exact_state_cap": settings.exact_state_cap,
            "time_limit_s": settings.limits.time_limit.map(|d| d.as_secs_f64()),
        }),
        table,
        extra_tables: Vec::new(),
        plots,
        interpretation,
        summary,
        elapsed_s: 0.0,
        terminal_columns: vec![
            "problem",
            "facts",
            "relaxed_union_level",
            "mutex_union_level",
            "exact_goal_level",
            "states_at_goal_level",
            "states_per_fact",
        ],
    })
}

/// Measures the problems small enough for the exact side (others are skipped before anything
/// runs); the table has one row per problem with an exact enumeration.
fn measure_small(
    sources: Vec<planning::ProblemSource>,
    settings: &MeasureSettings,
    opts: &RunOptions,
) -> Result<(Table, Vec<Measured>), LabError> {
    let mut table = Table::of::<UnionRow>("results");
    let mut measured = Vec::new();
    let pb = progress_bar(sources.len() as u64, "union-vs-states", opts.progress);
    for src in sources {
        pb.set_message(src.name.clone());
        // skip problems too large for the exact side before running anything else
        let small = src
            .ground()
            .map(|t| t.num_facts() <= settings.exact_max_facts)
            .unwrap_or(false);
        if small {
            if let Ok(m) = planning::measure(src, settings) {
                if let Some(r) = row(&m) {
                    table.push_row(&r)?;
                    measured.push(m);
                }
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok((table, measured))
}

/// The level where each representation claims the goal, and the size each one needs.
fn plots(measured: &[Measured]) -> Result<Vec<Plot>, LabError> {
    let cats: Vec<String> = measured.iter().map(|m| m.source.name.clone()).collect();
    let f = |g: &dyn Fn(&Measured) -> Option<usize>| -> Vec<Option<f64>> {
        measured.iter().map(|m| g(m).map(|x| x as f64)).collect()
    };
    let claims = CategoryChart {
        title: "Level at which each representation claims the goal".into(),
        categories: cats.clone(),
        value_axis: Axis::linear("level [parallel steps]"),
        series: vec![
            (
                "facts superposed (relaxed union)".into(),
                f(&|m| m.relaxed_level),
            ),
            (
                "facts + binary mutexes (planning graph)".into(),
                f(&|m| m.gp.summary.goals_first_non_mutex),
            ),
            (
                "states superposed (exact)".into(),
                f(&|m| m.exact_goal_level()),
            ),
        ],
        style: CategoryStyle::Dots,
    };
    let sizes = CategoryChart {
        title: "Size each representation needs".into(),
        categories: cats,
        value_axis: Axis::log("dimensions [count, log scale]"),
        series: vec![
            (
                "facts (one dimension per fact)".into(),
                f(&|m| Some(m.task.num_facts())),
            ),
            (
                "states reachable by the goal level".into(),
                f(&|m| m.exact_goal_level().and_then(|l| m.exact_states_at(l))),
            ),
            ("all reachable states".into(), f(&|m| m.total_states())),
        ],
        style: CategoryStyle::Dots,
    };
    Ok(vec![
        Plot {
            file_name: "claims.svg".into(),
            caption: "Per problem: the level where a superposition over facts (relaxed union), the planning graph (union + mutexes) and a superposition over states (exact) first claim the goal".into(),
            svg: category_chart(&claims)?,
        },
        Plot {
            file_name: "sizes.svg".into(),
            caption: "Per problem: dimensions needed by a superposition over facts vs over states (log scale)".into(),
            svg: category_chart(&sizes)?,
        },
    ])
}

/// The interpretation paragraphs (early claims, mutexes, size) and the summary numbers.
fn interpret(
    measured: &[Measured],
    settings: &MeasureSettings,
) -> (Vec<String>, serde_json::Map<String, Value>) {
    let mut out = Vec::new();
    let mut sum = serde_json::Map::new();
    let k = measured.len();
    let goal: Vec<&Measured> = measured
        .iter()
        .filter(|m| m.exact_goal_level().is_some())
        .collect();
    let early = goal
        .iter()
        .filter(|m| m.relaxed_level < m.exact_goal_level())
        .count();
    let never = measured
        .iter()
        .filter(|m| {
            m.exact_goal_level().is_none()
                && m.total_states().is_some()
                && m.relaxed_level.is_some()
        })
        .count();
    sum.insert("problems".into(), json!(k));
    sum.insert("relaxed_claims_early".into(), json!(early));
    sum.insert("relaxed_claims_unreachable_goal".into(), json!(never));
    out.push(format!(
        "On {} small problems (exact enumeration capped at {} states; {} of them finished): the \
         fact superposition (relaxed union) claims the goal strictly before any single state \
         holds it in {} of the {} problems with a reachable goal state, and claims it on {} \
         problem(s) whose goal no reachable state ever holds.",
        k,
        settings.exact_state_cap,
        measured
            .iter()
            .filter(|m| {
                m.exact.as_ref().is_some_and(|e| {
                    !e.truncated && (e.exhausted || m.exact_goal_level().is_some())
                })
            })
            .count(),
        early,
        goal.len(),
        never
    ));
    let mutex_early = goal
        .iter()
        .filter(|m| m.gp.summary.goals_first_non_mutex < m.exact_goal_level())
        .count();
    sum.insert("mutex_union_claims_early".into(), json!(mutex_early));
    out.push(format!(
        "With binary mutexes added (the planning graph), the claim comes before the truth in {} \
         of those {} problems, against {} for the plain union{}.",
        mutex_early,
        goal.len(),
        early,
        if mutex_early == 0 && early > 0 {
            ": on these problems pairwise constraints remove all of the spurious reach"
        } else if mutex_early < early {
            ": pairwise constraints remove part, not all, of the spurious reach"
        } else {
            ""
        }
    ));
    out.extend(interpret_size(measured, early + never > 0, &mut sum));
    (out, sum)
}

/// What the exact representation pays in size (`spurious`: the union claimed the goal early
/// or for an unreachable goal somewhere).
fn interpret_size(
    measured: &[Measured],
    spurious: bool,
    sum: &mut serde_json::Map<String, Value>,
) -> Option<String> {
    let ratios: Vec<f64> = measured
        .iter()
        .filter_map(|m| {
            let s = m
                .exact_goal_level()
                .and_then(|l| m.exact_states_at(l))
                .or(m.total_states())?;
            Some(s as f64 / m.task.num_facts().max(1) as f64)
        })
        .collect();
    let med = median(ratios.clone())?;
    let max = ratios.iter().copied().fold(0.0, f64::max);
    let max_states = measured
        .iter()
        .filter_map(|m| {
            m.total_states()
                .or(m.exact_goal_level().and_then(|l| m.exact_states_at(l)))
        })
        .max()
        .unwrap_or(0);
    sum.insert("median_states_per_fact".into(), json!(med));
    Some(format!(
        "The exact representation pays in size: a state superposition that can claim the goal \
         needs a median {}× as many dimensions as there are facts (up to {}×; up to {} states).{}",
        fmt_sig(med),
        fmt_sig(max),
        max_states,
        if spurious {
            " The fact superposition is smaller because it forgets which facts hold \
             together, and that is exactly where its early claims come from."
        } else {
            ""
        },
    ))
}
