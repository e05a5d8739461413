//! The three extractors of `plan-spurious-reach` side by side on the same planning graphs:
//! classic memoised backward search (Blum & Furst 1997), EBL/DDB (Kambhampati 2000) and SAT
//! with CaDiCaL (Kautz & Selman 1999). The same levels, very different work; and where SAT's
//! time stands against classic's, by the number of states the problem reaches (Kambhampati's
//! point: a disjunctive encoding wins on average, not on every instance).

use serde_json::{json, Value};
use superpose_plan::{graphplan_ebl, graphplan_sat, Extraction, GraphplanResult, Limits};

use super::planning::Measured;
use crate::plot::{xy_plot, Axis, Series, XyPlot};
use crate::report::Plot;
use crate::table::{fmt_sig, table_row, Row};
use crate::LabError;

table_row! {
    /// One extractor on one problem (the `extractors` table).
    pub struct ExtractorRow {
        problem: String => ("", "domain folder / problem"),
        extractor: String => (
            "",
            "classic (planner.c's memoised backward search), ebl (EBL/DDB nogoods), sat (the graph as CNF, CaDiCaL)"
        ),
        status: String => ("", "solved, unsolvable or limit"),
        plan_level: Option<usize> => ("level", "level of the plan found (parallel steps)"),
        failed_stages: usize => ("count", "stages where extraction ran and found no plan"),
        search_nodes: Option<u64> => (
            "nodes",
            "operators tried by backward search, all stages (classic, ebl)"
        ),
        memo: Option<usize> => (
            "entries",
            "failed goal sets (classic) or nogoods (ebl) stored at the end"
        ),
        sat_learned_clauses: Option<u64> => (
            "clauses",
            "clauses learned by CaDiCaL (one per conflict analysis), all stages (sat)"
        ),
        unsat_work_share: Option<f64> => (
            "fraction",
            "share of the work (nodes, or learned clauses for sat) spent in failed stages"
        ),
        time_s: f64 => ("s", "wall time of the run (graph expansion and extraction)"),
    }
}

/// The columns of the `extractors` table.
pub const EXTRACTOR_COLUMNS: &[(&str, &str, &str)] = ExtractorRow::COLUMNS;

/// EBL/DDB and SAT extraction on the graph of a measured problem (classic is `m.gp`).
pub struct OtherExtractors {
    pub ebl: GraphplanResult,
    pub sat: GraphplanResult,
}

/// Run EBL/DDB and SAT with the classic run's time limit, and at most a few levels past the
/// classic run's last stage (EBL/DDB cannot prove unsolvability by the memo fixpoint).
pub fn other_extractors(m: &Measured, limits: &Limits) -> OtherExtractors {
    let limits = Limits {
        max_levels: m.gp.levels.len() + 8,
        ..limits.clone()
    };
    OtherExtractors {
        ebl: graphplan_ebl(&m.task, &limits),
        sat: graphplan_sat(&m.task, &limits),
    }
}

/// Work of one run: total, and the part spent in failed stages.
fn work(r: &GraphplanResult, sat: bool) -> (u64, u64) {
    let of = |l: &superpose_plan::LevelDiagnostics| {
        if sat {
            l.sat.as_ref().map_or(0, |s| s.learned_clauses)
        } else {
            l.search_nodes
        }
    };
    let total = r.levels.iter().map(of).sum();
    let failed = r
        .levels
        .iter()
        .filter(|l| l.extraction == Extraction::Failed)
        .map(of)
        .sum();
    (total, failed)
}

/// One row of the extractor table.
pub fn extractor_row(problem: &str, name: &str, r: &GraphplanResult) -> ExtractorRow {
    let sat = name == "sat";
    let (total, failed) = work(r, sat);
    let failed_stages = r
        .levels
        .iter()
        .filter(|l| l.extraction == Extraction::Failed)
        .count();
    let memo: usize = r.levels.iter().map(|l| l.memo_entries).sum();
    ExtractorRow {
        problem: problem.into(),
        extractor: name.into(),
        status: r.outcome.status().into(),
        plan_level: r.summary.plan_level,
        failed_stages,
        search_nodes: (!sat).then_some(total),
        memo: (!sat).then_some(memo),
        sat_learned_clauses: sat.then_some(total),
        unsat_work_share: (total > 0).then(|| failed as f64 / total as f64),
        time_s: r.time_s,
    }
}

/// Sentences on the three extractors: the same levels, where the work goes, the time, and
/// SAT against classic by the size of the state space.
pub fn interpret_extractors(
    ms: &[Measured],
    others: &[OtherExtractors],
) -> (Vec<String>, serde_json::Map<String, Value>) {
    let mut out = Vec::new();
    let mut sum = serde_json::Map::new();
    let status = |r: &GraphplanResult| r.outcome.status() != "limit";
    let decided: Vec<(&Measured, &OtherExtractors)> = ms
        .iter()
        .zip(others)
        .filter(|(m, o)| status(&m.gp) && status(&o.ebl) && status(&o.sat))
        .collect();
    let same: Vec<&(&Measured, &OtherExtractors)> =
        decided.iter().filter(|(m, o)| same_answer(m, o)).collect();
    let solved = |r: &GraphplanResult| usize::from(r.summary.plan_level.is_some());
    let counts = ms.iter().zip(others).fold([0usize; 3], |c, (m, o)| {
        [
            c[0] + solved(&m.gp),
            c[1] + solved(&o.ebl),
            c[2] + solved(&o.sat),
        ]
    });
    sum.insert("extractors_solved".into(), json!(counts));
    sum.insert("extractors_same_answer".into(), json!(same.len()));
    let differ: Vec<&str> = decided
        .iter()
        .filter(|d| !same.iter().any(|s| std::ptr::eq(s.0, d.0)))
        .map(|(m, _)| m.source.name.as_str())
        .collect();
    out.push(format!(
        "Three extractors on the same graphs (classic memoised search, EBL/DDB, SAT with \
         CaDiCaL) solve {}, {} and {} problems; on the {} that all three decide they give the \
         same answer at the same level on {}{}.",
        counts[0],
        counts[1],
        counts[2],
        decided.len(),
        same.len(),
        if differ.is_empty() {
            String::new()
        } else {
            format!(" (they differ on {})", differ.join(", "))
        }
    ));
    let both = solved_alike(ms, others);
    if both.is_empty() {
        return (out, sum);
    }
    let total = |f: &dyn Fn(&Pair) -> (u64, u64)| {
        both.iter()
            .map(f)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    let classic = total(&|x| work(&x.0.gp, false));
    let ebl = total(&|x| work(&x.1.ebl, false));
    let sat = total(&|x| work(&x.1.sat, true));
    let nogoods: usize = both
        .iter()
        .map(|x| x.1.ebl.levels.iter().map(|l| l.memo_entries).sum::<usize>())
        .sum();
    let share = |w: (u64, u64)| {
        if w.0 == 0 {
            "none".to_string()
        } else {
            format!("{:.0}%", 100.0 * w.1 as f64 / w.0 as f64)
        }
    };
    sum.insert(
        "extractor_work".into(),
        json!({"classic_nodes": classic.0, "ebl_nodes": ebl.0, "ebl_nogoods": nogoods, "sat_learned_clauses": sat.0}),
    );
    out.push(format!(
        "Where the work goes, on the {} problems all three solve: classic tried {} operators ({} \
         of them in stages that failed), EBL/DDB {} operators ({} in failed stages) and stored {} \
         nogoods, SAT learned {} clauses from conflicts ({} in stages it proved UNSAT). The \
         failed stages are the levels where the union looked reached but no plan existed.",
        both.len(),
        classic.0,
        share(classic),
        ebl.0,
        share(ebl),
        nogoods,
        sat.0,
        share(sat)
    ));
    let (sentence, times) = time_sentence(&both);
    sum.insert("extractor_time_s".into(), times);
    out.push(sentence);
    if let Some((sentence, split)) = states_sentence(&speed_points(ms, others)) {
        sum.insert("sat_faster_by_states".into(), split);
        out.push(sentence);
    }
    (out, sum)
}

/// The three extractors' total times on the problems all of them solve, and how often SAT wins.
fn time_sentence(both: &[Pair]) -> (String, Value) {
    let time = |f: &dyn Fn(&Pair) -> f64| -> f64 { both.iter().map(f).sum() };
    let (tc, te, ts) = (
        time(&|x| x.0.gp.time_s),
        time(&|x| x.1.ebl.time_s),
        time(&|x| x.1.sat.time_s),
    );
    let sat_fastest = both
        .iter()
        .filter(|x| x.1.sat.time_s <= x.0.gp.time_s.min(x.1.ebl.time_s))
        .count();
    let sentence = format!(
        "Time on those problems (graph expansion included): classic {} s, EBL/DDB {} s, SAT {} s \
         in all; SAT is the fastest of the three on {} of {}.",
        fmt_sig(tc),
        fmt_sig(te),
        fmt_sig(ts),
        sat_fastest,
        both.len()
    );
    (sentence, json!([tc, te, ts]))
}

/// Classic runs shorter than this are left out of the speed comparison: below it a run (the
/// planner's own time, grounding excluded) is mostly graph expansion, which every extractor
/// pays alike, and timer noise. (The bar of the graphplan-sat work: faster than classic where
/// classic takes over 0.1 s.)
pub const SPEED_MIN_S: f64 = 0.1;

/// Do the three extractors agree: the same outcome at the same level?
fn same_answer(m: &Measured, o: &OtherExtractors) -> bool {
    let key = |r: &GraphplanResult| (r.outcome.status(), r.summary.plan_level);
    key(&m.gp) == key(&o.ebl) && key(&m.gp) == key(&o.sat)
}

/// One problem: the classic run and the other extractors' runs.
type Pair<'a> = (&'a Measured, &'a OtherExtractors);

/// The problems all three extractors solve, at the same level: where work and time compare.
fn solved_alike<'a>(ms: &'a [Measured], others: &'a [OtherExtractors]) -> Vec<Pair<'a>> {
    ms.iter()
        .zip(others)
        .filter(|(m, o)| m.gp.summary.plan_level.is_some() && same_answer(m, o))
        .collect()
}

/// States reachable within a problem's plan steps, as the exact enumeration saw them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateCount {
    /// Enumerated to the plan's level: exactly this many.
    Exact(usize),
    /// The enumeration stopped at its state cap first: at least this many.
    AtLeast(usize),
    /// Not enumerated (more facts than the enumeration takes, or no plan).
    NotEnumerated,
}

impl StateCount {
    /// The count at the plan's level of a solved problem.
    pub fn of(m: &Measured) -> StateCount {
        let (Some(e), Some(plan)) = (&m.exact, m.gp.summary.plan_level) else {
            return StateCount::NotEnumerated;
        };
        match m.exact_states_at(plan) {
            Some(n) => StateCount::Exact(n),
            None if e.truncated => StateCount::AtLeast(e.levels.last().map_or(0, |l| l.states)),
            None => StateCount::NotEnumerated,
        }
    }
}

/// One problem that all three extractors solve at the same level: classic's and SAT's run
/// times, and its state count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeedPoint {
    pub classic_s: f64,
    pub sat_s: f64,
    pub states: StateCount,
}

/// The speed points of a run (problems solved by all three at the same level).
pub fn speed_points(ms: &[Measured], others: &[OtherExtractors]) -> Vec<SpeedPoint> {
    solved_alike(ms, others)
        .into_iter()
        .map(|(m, o)| SpeedPoint {
            classic_s: m.gp.time_s,
            sat_s: o.sat.time_s,
            states: StateCount::of(m),
        })
        .collect()
}

/// SAT against classic on the points where classic takes at least [`SPEED_MIN_S`], as
/// `[counted, beyond]`, each `(SAT faster, problems)`: those whose states were counted
/// exactly, and the rest (over the enumeration's cap, or not enumerated).
pub fn speed_by_states(points: &[SpeedPoint]) -> [(usize, usize); 2] {
    let mut out = [(0, 0); 2];
    for p in points.iter().filter(|p| p.classic_s >= SPEED_MIN_S) {
        let side = &mut out[usize::from(!matches!(p.states, StateCount::Exact(_)))];
        side.0 += usize::from(p.sat_s < p.classic_s);
        side.1 += 1;
    }
    out
}

/// SAT's wins over classic split by the state space ([`speed_by_states`]), when any problem
/// takes classic over [`SPEED_MIN_S`]: the sentence and its summary value.
fn states_sentence(points: &[SpeedPoint]) -> Option<(String, Value)> {
    let [counted, beyond] = speed_by_states(points);
    if counted.1 + beyond.1 == 0 {
        return None;
    }
    let sentence = format!(
        "Against the size of the state space, on the problems where classic takes over {} s: \
         SAT is faster than classic on {} of {} whose states within the plan's steps the exact \
         enumeration could count, and on {} of {} beyond it (over its cap, or too many facts \
         to enumerate). On a small space classic's memo of failed goal sets is a table of the \
         subproblems; clause learning does not tabulate states (docs/planning-sat.md).",
        SPEED_MIN_S, counted.0, counted.1, beyond.0, beyond.1
    );
    let split = json!({"counted": [counted.0, counted.1], "beyond": [beyond.0, beyond.1]});
    Some((sentence, split))
}

/// classic time / SAT time against the states reachable within the plan's steps (log–log), for
/// the points where classic takes at least [`SPEED_MIN_S`] and the states were counted exactly;
/// `None` when there is no such point. Points beyond the enumeration are not drawn: all that is
/// known of them is a lower bound, often far below the truth (the enumeration also stops on a
/// budget of parallel steps tried), so the caption counts them instead.
pub fn states_plot(points: &[SpeedPoint]) -> Result<Option<Plot>, LabError> {
    let exact: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.classic_s >= SPEED_MIN_S && p.sat_s > 0.0)
        .filter_map(|p| match p.states {
            StateCount::Exact(n) => Some((n.max(1) as f64, p.classic_s / p.sat_s)),
            _ => None,
        })
        .collect();
    if exact.is_empty() {
        return Ok(None);
    }
    let [_, beyond] = speed_by_states(points);
    let plot = XyPlot {
        title: "SAT against classic extraction, on state spaces small enough to count".into(),
        x: Axis::log("states reachable within the plan's parallel steps"),
        y: Axis::log("classic time / SAT time (above 1: SAT faster)"),
        series: vec![Series::new("counted exactly", exact, false)],
        diagonal: false,
    };
    Ok(Some(Plot {
        file_name: "sat-vs-classic-by-states.svg".into(),
        caption: format!(
            "Per problem where classic takes over {SPEED_MIN_S} s and the exact enumeration \
             counted the states: classic's time over SAT's against the states reachable within \
             the plan's steps (single runs, graph expansion included). Not drawn: the {} such \
             problems beyond the enumeration, where SAT is faster on {}.",
            beyond.1, beyond.0
        ),
        svg: xy_plot(&plot)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(classic_s: f64, sat_s: f64, states: StateCount) -> SpeedPoint {
        SpeedPoint {
            classic_s,
            sat_s,
            states,
        }
    }

    #[test]
    fn speed_is_split_by_whether_the_states_were_counted() {
        let points = [
            p(0.5, 0.2, StateCount::Exact(1_000)), // counted, SAT faster
            p(0.3, 0.6, StateCount::Exact(5_000)), // counted, classic faster
            p(0.4, 0.9, StateCount::Exact(7_000)), // counted, classic faster
            p(0.05, 0.01, StateCount::Exact(10)),  // classic under 0.1 s: left out
            p(2.0, 0.5, StateCount::AtLeast(200_000)), // beyond, SAT faster
            p(1.0, 1.5, StateCount::NotEnumerated), // beyond, classic faster
            p(0.2, 0.2, StateCount::NotEnumerated), // a tie is not "faster"
        ];
        assert_eq!(speed_by_states(&points), [(1, 3), (1, 3)]);
        assert_eq!(speed_by_states(&points[3..4]), [(0, 0), (0, 0)]);
        let (sentence, split) = states_sentence(&points).unwrap();
        assert_eq!(split, json!({"counted": [1, 3], "beyond": [1, 3]}));
        assert!(sentence.contains("on 1 of 3 whose states"), "{sentence}");
        assert!(states_sentence(&points[3..4]).is_none());
    }

    #[test]
    fn the_plot_draws_counted_points_and_counts_the_rest() {
        let points = [
            p(0.5, 0.25, StateCount::Exact(1_000)),
            p(2.0, 0.5, StateCount::AtLeast(200_000)),
            p(1.0, 1.5, StateCount::NotEnumerated),
            p(0.01, 0.5, StateCount::Exact(10)),
        ];
        let plot = states_plot(&points).unwrap().expect("one point to draw");
        assert_eq!(plot.file_name, "sat-vs-classic-by-states.svg");
        assert!(plot.svg.contains("counted exactly"));
        assert!(
            plot.caption
                .contains("the 2 such problems beyond the enumeration, where SAT is faster on 1"),
            "{}",
            plot.caption
        );
        assert!(states_plot(&points[1..]).unwrap().is_none());
    }
}
