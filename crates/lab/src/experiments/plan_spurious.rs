//! `plan-spurious-reach`: where the planning graph (a union over states) "looks reached"
//! against where a plan really exists.
//!
//! Level k of the planning graph is the disjunctive projection of the states reachable in k
//! parallel steps (Kambhampati, ECP-97): the goals can be present, even pairwise non-mutex,
//! before any single state holds them all; backward extraction (Blum & Furst 1997) finds out.
//! Three extractors run on the same graphs (classic memoised search, EBL/DDB, SAT with CaDiCaL):
//! the same levels, very different work.

use serde_json::{json, Value};
use superpose_plan::Extraction;

use super::plan_extractors::{
    extractor_row, interpret_extractors, other_extractors, speed_points, states_plot, ExtractorRow,
    OtherExtractors,
};
use super::planning::{self, median, MeasureSettings, Measured};
use crate::plot::{category_chart, xy_plot, Axis, CategoryChart, CategoryStyle, Series, XyPlot};
use crate::report::{ExperimentResult, Plot, Status};
use crate::table::{fmt_sig, table_row, Row, Table};
use crate::{progress_bar, ExperimentId, LabError, RunOptions};

table_row! {
    /// One problem (the `results` table): the planning graph's levels against the plan's;
    /// a problem that could not be run has only its name, status `error` and the error.
    pub struct ProblemRow {
        problem: String => ("", "domain folder / problem"),
        facts: Option<usize> => ("facts", "ground facts after pruning"),
        actions: Option<usize> => ("actions", "ground actions after pruning"),
        status: String => ("", "Graphplan outcome: solved, unsolvable, limit, or error"),
        goals_first_present: Option<usize> => (
            "level",
            "first level whose fact layer holds every goal"
        ),
        goals_first_non_mutex: Option<usize> => (
            "level",
            "first level where the goals are also pairwise non-mutex"
        ),
        leveled_off_at: Option<usize> => ("level", "level from which the graph no longer changes"),
        first_extraction: Option<usize> => (
            "level",
            "first level where backward extraction was attempted"
        ),
        failed_extractions: Option<usize> => (
            "count",
            "levels where extraction was attempted and failed"
        ),
        plan_level: Option<usize> => ("level", "level of the plan found (parallel steps)"),
        plan_actions: Option<usize> => ("actions", "actions in the plan found"),
        spurious_levels: Option<usize> => (
            "levels",
            "plan_level − goals_first_non_mutex: levels where the union looked reached but no plan existed"
        ),
        extraction_nodes: Option<u64> => (
            "nodes",
            "operators tried by backward extraction, all stages"
        ),
        memo_entries: Option<usize> => (
            "goal sets",
            "failed goal sets memoised at the end of the run"
        ),
        exact_goal_level: Option<usize> => (
            "level",
            "first level at which a single reachable state holds every goal (exact enumeration)"
        ),
        exact_pairs_level: Option<usize> => (
            "level",
            "first level at which every goal pair co-occurs in some reachable state"
        ),
        exact_states_at_plan: Option<usize> => (
            "states",
            "states reachable within plan_level parallel steps"
        ),
        time_s: Option<f64> => ("s", "Graphplan wall time (expansion + extraction)"),
        expansion_s: Option<f64> => ("s", "time to build the same graph without extraction"),
        extraction_share: Option<f64> => (
            "fraction",
            "1 − expansion_s / time_s: share of the run spent in extraction"
        ),
        error: Option<String> => ("", "why the problem was not run (bad input)"),
    }
}

/// The columns of the `results` table.
pub const COLUMNS: &[(&str, &str, &str)] = ProblemRow::COLUMNS;

/// The main-table row of a measured problem.
pub fn row(m: &Measured) -> ProblemRow {
    let s = &m.gp.summary;
    let spurious = match (s.plan_level, s.goals_first_non_mutex) {
        (Some(p), Some(n)) => Some(p - n),
        _ => None,
    };
    ProblemRow {
        problem: m.source.name.clone(),
        facts: Some(m.task.num_facts()),
        actions: Some(m.task.actions.len()),
        status: m.gp.outcome.status().into(),
        goals_first_present: s.goals_first_present,
        goals_first_non_mutex: s.goals_first_non_mutex,
        leveled_off_at: s.leveled_off_at,
        first_extraction: m.first_extraction(),
        failed_extractions: Some(m.failed_extractions()),
        plan_level: s.plan_level,
        plan_actions: m.plan_actions(),
        spurious_levels: spurious,
        extraction_nodes: Some(m.extraction_nodes()),
        memo_entries: Some(m.memo_entries()),
        exact_goal_level: m.exact_goal_level(),
        exact_pairs_level: m.exact_pairs_level(),
        exact_states_at_plan: s.plan_level.and_then(|p| m.exact_states_at(p)),
        time_s: Some(m.gp.time_s),
        expansion_s: Some(m.expansion_s),
        extraction_share: m.extraction_share(),
        error: None,
    }
}

/// The main-table row of a problem that could not be run.
fn error_row(problem: String, error: String) -> ProblemRow {
    ProblemRow {
        problem,
        facts: None,
        actions: None,
        status: "error".into(),
        goals_first_present: None,
        goals_first_non_mutex: None,
        leveled_off_at: None,
        first_extraction: None,
        failed_extractions: None,
        plan_level: None,
        plan_actions: None,
        spurious_levels: None,
        extraction_nodes: None,
        memo_entries: None,
        exact_goal_level: None,
        exact_pairs_level: None,
        exact_states_at_plan: None,
        time_s: None,
        expansion_s: None,
        extraction_share: None,
        error: Some(error),
    }
}

table_row! {
    /// One level of one problem's planning graph (the `levels` table), beside the exact
    /// enumeration when it ran.
    pub struct LevelRow {
        problem: String => ("", "domain folder / problem"),
        level: usize => ("level", "fact level P_k"),
        facts: usize => ("facts", "facts in P_k (the union)"),
        fact_mutex_pairs: usize => ("pairs", "mutex fact pairs in P_k"),
        actions: usize => ("actions", "ground actions in A_{k-1}"),
        goals_present: bool => ("", "every goal in P_k"),
        goals_non_mutex: bool => ("", "goals pairwise non-mutex in P_k"),
        extraction: Extraction => ("", "not_tried, failed or succeeded"),
        search_nodes: u64 => ("nodes", "operators tried by extraction at this stage"),
        memo_entries: usize => ("goal sets", "failed goal sets memoised at this level"),
        exact_states: Option<usize> => ("states", "states reachable within k parallel steps"),
        exact_union_facts: Option<usize> => (
            "facts",
            "facts true in some such state (exact union)"
        ),
        exact_goal_state: Option<bool> => ("", "one such state holds every goal"),
    }
}

/// The columns of the `levels` table.
pub const LEVEL_COLUMNS: &[(&str, &str, &str)] = LevelRow::COLUMNS;

/// The per-level rows of a measured problem.
pub fn level_rows(m: &Measured) -> Vec<LevelRow> {
    m.gp.levels
        .iter()
        .map(|l| {
            let ex = m
                .exact
                .as_ref()
                .and_then(|e| e.levels.iter().find(|x| x.level == l.level));
            LevelRow {
                problem: m.source.name.clone(),
                level: l.level,
                facts: l.facts,
                fact_mutex_pairs: l.fact_mutex_pairs,
                actions: l.actions,
                goals_present: l.goals_present,
                goals_non_mutex: l.goals_non_mutex,
                extraction: l.extraction,
                search_nodes: l.search_nodes,
                memo_entries: l.memo_entries,
                exact_states: ex.map(|x| x.states),
                exact_union_facts: ex.map(|x| x.union_facts),
                exact_goal_state: ex.map(|x| x.goal_state),
            }
        })
        .collect()
}

pub fn run(opts: &RunOptions) -> Result<ExperimentResult, LabError> {
    let sources = planning::problems(opts)?;
    let settings = MeasureSettings::for_run(opts);
    let mut table = Table::of::<ProblemRow>("results");
    let mut levels = Table::of::<LevelRow>("levels");
    let mut extractors = Table::of::<ExtractorRow>("extractors");
    let mut measured: Vec<Measured> = Vec::new();
    let mut others: Vec<OtherExtractors> = Vec::new();
    let pb = progress_bar(sources.len() as u64, "plan-spurious-reach", opts.progress);
    for src in sources {
        pb.set_message(src.name.clone());
        let name = src.name.clone();
        match planning::measure(src, &settings) {
            Ok(m) => {
                table.push_row(&row(&m))?;
                for r in level_rows(&m) {
                    levels.push_row(&r)?;
                }
                let o = other_extractors(&m, &settings.limits);
                for (name, r) in [("classic", &m.gp), ("ebl", &o.ebl), ("sat", &o.sat)] {
                    extractors.push_row(&extractor_row(&m.source.name, name, r))?;
                }
                others.push(o);
                measured.push(m);
            }
            Err(e) => {
                table.push_row(&error_row(name, e))?;
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();

    let mut plots = plots(&measured)?;
    plots.extend(states_plot(&speed_points(&measured, &others))?);
    let (mut interpretation, mut summary) = interpret(&measured, table.rows.len());
    let (more, extra) = interpret_extractors(&measured, &others);
    interpretation.extend(more);
    summary.extend(extra);
    Ok(ExperimentResult {
        id: ExperimentId::PlanSpuriousReach,
        status: Status::Ok,
        quick: opts.quick,
        params: json!({
            "problems": table.rows.len(),
            "time_limit_s": settings.limits.time_limit.map(|d| d.as_secs_f64()),
            "exact_max_facts": settings.exact_max_facts,
            "exact_state_cap": settings.exact_state_cap,
            "source": if opts.quick { "embedded".to_string() } else {
                opts.pddl_dir.as_ref().map_or_else(|| crate::data::repo_pddl_dir().display().to_string(), |d| d.display().to_string())
            },
        }),
        table,
        extra_tables: vec![levels, extractors],
        plots,
        interpretation,
        summary,
        elapsed_s: 0.0,
        terminal_columns: vec![
            "problem",
            "status",
            "goals_first_present",
            "goals_first_non_mutex",
            "plan_level",
            "spurious_levels",
            "exact_goal_level",
            "extraction_nodes",
            "extraction_share",
        ],
    })
}

/// The three plots: levels per problem, looks-reached against plan level, extraction share.
/// Only problems Graphplan decided (solved or proved unsolvable) are drawn.
fn plots(measured: &[Measured]) -> Result<Vec<Plot>, LabError> {
    let decided: Vec<&Measured> = measured
        .iter()
        .filter(|m| m.gp.outcome.status() != "limit")
        .collect();
    let lv = |f: &dyn Fn(&Measured) -> Option<usize>| -> Vec<Option<f64>> {
        decided.iter().map(|m| f(m).map(|x| x as f64)).collect()
    };
    let levels_chart = CategoryChart {
        title: "Looks reached vs really reached, per problem".into(),
        categories: decided.iter().map(|m| m.source.name.clone()).collect(),
        value_axis: Axis::linear("planning-graph level [parallel steps]"),
        series: vec![
            (
                "goals first present (union)".into(),
                lv(&|m| m.gp.summary.goals_first_present),
            ),
            (
                "goals first pairwise non-mutex".into(),
                lv(&|m| m.gp.summary.goals_first_non_mutex),
            ),
            (
                "plan level (extraction succeeds)".into(),
                lv(&|m| m.gp.summary.plan_level),
            ),
            (
                "first single state with all goals (exact)".into(),
                lv(&|m| m.exact_goal_level()),
            ),
        ],
        style: CategoryStyle::Dots,
    };
    let solved: Vec<&Measured> = measured
        .iter()
        .filter(|m| m.gp.summary.plan_level.is_some())
        .collect();
    let scatter = XyPlot {
        title: "Level where the goals look reached vs level of the plan".into(),
        x: Axis::linear("level where the union looks reached [parallel steps]"),
        y: Axis::linear("plan level [parallel steps]"),
        series: vec![
            Series::new(
                "goals present",
                solved
                    .iter()
                    .filter_map(|m| {
                        Some((
                            m.gp.summary.goals_first_present? as f64,
                            m.gp.summary.plan_level? as f64,
                        ))
                    })
                    .collect(),
                false,
            ),
            Series::new(
                "goals pairwise non-mutex",
                solved
                    .iter()
                    .filter_map(|m| {
                        Some((
                            m.gp.summary.goals_first_non_mutex? as f64,
                            m.gp.summary.plan_level? as f64,
                        ))
                    })
                    .collect(),
                false,
            ),
        ],
        diagonal: true,
    };
    let share_chart = CategoryChart {
        title: "Share of Graphplan's time spent in extraction".into(),
        categories: decided.iter().map(|m| m.source.name.clone()).collect(),
        value_axis: Axis::linear("extraction time / total time [fraction]"),
        series: vec![(
            "extraction share".into(),
            decided.iter().map(|m| m.extraction_share()).collect(),
        )],
        style: CategoryStyle::Bars,
    };
    Ok(vec![
        Plot {
            file_name: "levels.svg".into(),
            caption: "Per problem: the level where the goals first appear in the union, where they are first pairwise non-mutex, where a plan is extracted, and (exact enumeration) where one state first holds them all".into(),
            svg: category_chart(&levels_chart)?,
        },
        Plot {
            file_name: "looks-vs-really.svg".into(),
            caption: "Level where the goals look reached against the plan level; points above the diagonal are levels of spurious reach".into(),
            svg: xy_plot(&scatter)?,
        },
        Plot {
            file_name: "extraction-share.svg".into(),
            caption: "Share of each run spent in backward extraction (1 − expansion time / total time)".into(),
            svg: category_chart(&share_chart)?,
        },
    ])
}

fn interpret(ms: &[Measured], total: usize) -> (Vec<String>, serde_json::Map<String, Value>) {
    let mut out = Vec::new();
    let mut sum = serde_json::Map::new();
    let solved: Vec<&Measured> = ms
        .iter()
        .filter(|m| m.gp.summary.plan_level.is_some())
        .collect();
    let unsolvable: Vec<&Measured> = ms
        .iter()
        .filter(|m| m.gp.outcome.status() == "unsolvable")
        .collect();
    let limit = ms
        .iter()
        .filter(|m| m.gp.outcome.status() == "limit")
        .count();
    sum.insert("problems".into(), json!(total));
    sum.insert("solved".into(), json!(solved.len()));
    sum.insert("unsolvable".into(), json!(unsolvable.len()));
    sum.insert("limit".into(), json!(limit));
    out.push(format!(
        "Graphplan solved {} of {} problems, proved {} unsolvable and hit the limit on {}{}.",
        solved.len(),
        total,
        unsolvable.len(),
        limit,
        if total > ms.len() {
            format!("; {} could not be read or grounded", total - ms.len())
        } else {
            String::new()
        }
    ));
    let gaps: Vec<(usize, &Measured)> = solved
        .iter()
        .filter_map(|m| {
            Some((
                m.gp.summary.plan_level? - m.gp.summary.goals_first_non_mutex?,
                *m,
            ))
        })
        .collect();
    let spurious: Vec<&(usize, &Measured)> = gaps.iter().filter(|(g, _)| *g > 0).collect();
    sum.insert("solved_with_spurious_levels".into(), json!(spurious.len()));
    if !solved.is_empty() {
        let worst = gaps.iter().max_by_key(|(g, _)| *g);
        let mut s = format!(
            "In {} of the {} solved problems the goals were present and pairwise non-mutex at a \
             level where no plan existed{}.",
            spurious.len(),
            solved.len(),
            if spurious.is_empty() {
                ""
            } else {
                ": there the union looked reached before any state was"
            }
        );
        if let Some((g, m)) = worst.filter(|(g, _)| *g > 0) {
            s.push_str(&format!(
                " The largest gap is {} levels ({}: non-mutex at {}, plan at {}).",
                g,
                m.source.name,
                m.gp.summary.goals_first_non_mutex.unwrap_or(0),
                m.gp.summary.plan_level.unwrap_or(0)
            ));
            sum.insert("max_spurious_levels".into(), json!(g));
        }
        let early_present = solved
            .iter()
            .filter(|m| m.gp.summary.goals_first_present < m.gp.summary.plan_level)
            .count();
        s.push_str(&format!(
            " Counting goals merely present in the union, {} of {} appear before the plan level.",
            early_present,
            solved.len()
        ));
        out.push(s);
    }
    for m in &unsolvable {
        if let Some(nm) = m.gp.summary.goals_first_non_mutex {
            out.push(format!(
                "{} is unsolvable (proved at stage {}), yet its goals are pairwise non-mutex from \
                 level {}: the pairwise projection never rules it out; only extraction does.",
                m.source.name,
                m.gp.summary
                    .unsolvable_at
                    .map_or("?".into(), |s| s.to_string()),
                nm
            ));
        }
    }
    interpret_exact(&solved, &mut out, &mut sum);
    interpret_shares(ms, &mut out, &mut sum);
    (out, sum)
}

/// Does exact enumeration of the reachable states agree with Graphplan's plan level?
fn interpret_exact(
    solved: &[&Measured],
    out: &mut Vec<String>,
    sum: &mut serde_json::Map<String, Value>,
) {
    let with_exact: Vec<&&Measured> = solved
        .iter()
        .filter(|m| m.exact_goal_level().is_some())
        .collect();
    if !with_exact.is_empty() {
        let agree = with_exact
            .iter()
            .filter(|m| m.exact_goal_level() == m.gp.summary.plan_level)
            .count();
        sum.insert("exact_checked".into(), json!(with_exact.len()));
        sum.insert("exact_agrees_with_plan_level".into(), json!(agree));
        let pairs_before = with_exact
            .iter()
            .filter(|m| m.exact_pairs_level() < m.exact_goal_level())
            .count();
        out.push(format!(
            "Exact enumeration of the reachable states (parallel steps) on {} small problems: the \
             first state holding every goal appears exactly at Graphplan's plan level in {} of \
             them. In {} of them every goal pair already co-occurs in some state at an earlier \
             level — pairwise information cannot tell these levels apart, so a mutex-based union \
             must look reached early there.",
            with_exact.len(),
            agree,
            pairs_before
        ));
    }
}

/// Extraction's share of the run time and its total work.
fn interpret_shares(
    ms: &[Measured],
    out: &mut Vec<String>,
    sum: &mut serde_json::Map<String, Value>,
) {
    let shares: Vec<f64> = ms
        .iter()
        .filter(|m| m.gp.outcome.status() != "limit" && m.gp.time_s > 1e-3)
        .filter_map(|m| m.extraction_share())
        .collect();
    let nodes: u64 = ms.iter().map(|m| m.extraction_nodes()).sum();
    if let Some(med) = median(shares.clone()) {
        let max = shares.iter().copied().fold(0.0, f64::max);
        sum.insert("median_extraction_share".into(), json!(med));
        out.push(format!(
            "Extraction's share of the run time (problems taking over 1 ms): median {}, maximum {}; \
             {} operators tried by extraction in total.",
            fmt_sig(med),
            fmt_sig(max),
            nodes
        ));
    }
}
