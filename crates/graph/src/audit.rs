//! Shortcut audit (issue 15): how well do rules that never read the root answer a task set?
//!
//! A reachability question "is the root a TARGET or DISTRACTOR?" should need the root: a
//! model that answers from the candidates alone has learnt a property of the generator, not
//! reachability. This module scores a panel of root-agnostic rules (in- and out-degree,
//! ancestor and descendant counts, distances from in-degree-0 nodes, node id, order in the
//! question), each in both directions as its own row, beside root-aware bounded searches.
//!
//! A rule compares one number for each candidate and picks the larger (or, as a separate row,
//! the smaller); equal numbers, or a number missing for either candidate, are a tie and count
//! 1/2. The root-aware rows are meet-in-the-middle searches: k hops forward from the root
//! meet j hops backward from a candidate. The forward ball of radius k meets the backward ball
//! of radius j exactly when the candidate is at most k + j hops from the root, so every split
//! of the same budget s = k + j gives the same answers and the report has one row per s
//! (s = 0..=6 covers every pair k, j in 0..=3). The panel ends with the full search (BFS from
//! the root), which scores 100% on correctly labelled tasks.

use serde::Serialize;

use crate::solve::bfs;
use crate::{Digraph, ReachTask};

/// Default tolerance of the verdict: shortcut-free when every root-agnostic rule scores
/// within 50% ± 3 points.
pub const DEFAULT_BAND: f64 = 0.03;

/// Largest forward (k) and backward (j) hop count of the meet-in-the-middle rows.
pub const MAX_MEET_HOPS: usize = 3;

/// One rule's score over the task set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleRow {
    /// What the rule picks, e.g. "more ancestors".
    pub rule: String,
    /// Whether the rule reads the root (the root-agnostic rows are the shortcuts).
    pub root_aware: bool,
    /// Fraction of tasks answered correctly, ties counting 1/2.
    pub accuracy: f64,
    /// Fraction of tasks where the rule could not separate the candidates.
    pub ties: f64,
}

/// The audit of one task set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditReport {
    pub tasks: usize,
    /// Root-agnostic rules first (each feature in both directions), then the root-aware ones.
    pub rows: Vec<RuleRow>,
    /// Highest accuracy of any root-agnostic rule (0.5 when every one is at chance).
    pub best_root_agnostic: f64,
    /// The rule that reaches `best_root_agnostic`.
    pub best_rule: String,
    /// Tolerance used for the verdict (fraction, e.g. 0.03).
    pub band: f64,
    /// Every root-agnostic rule is within 50% ± band.
    pub shortcut_free: bool,
    /// One sentence: "shortcut-free: …" or "shortcuts: rule … scores …%".
    pub verdict: String,
}

/// Errors from [`audit`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("no tasks to audit")]
    NoTasks,
    #[error("task {index}: a candidate or the root is not a node of its graph")]
    BadTask { index: usize },
}

/// A root-agnostic feature: its two row names (larger value wins, smaller value wins).
struct Feature {
    more: &'static str,
    fewer: &'static str,
}

const FEATURES: [Feature; 11] = [
    Feature {
        more: "higher in-degree",
        fewer: "lower in-degree",
    },
    Feature {
        more: "higher out-degree",
        fewer: "lower out-degree",
    },
    Feature {
        more: "more ancestors",
        fewer: "fewer ancestors",
    },
    Feature {
        more: "more descendants",
        fewer: "fewer descendants",
    },
    Feature {
        more: "farther from nearest in-deg-0 node",
        fewer: "nearer to nearest in-deg-0 node",
    },
    Feature {
        more: "farther from farthest in-deg-0 ancestor",
        fewer: "nearer to farthest in-deg-0 ancestor",
    },
    Feature {
        more: "longer longest path from in-deg-0",
        fewer: "shorter longest path from in-deg-0",
    },
    Feature {
        more: "more in-deg-0 ancestors",
        fewer: "fewer in-deg-0 ancestors",
    },
    Feature {
        more: "higher share of in-deg-0 ancestors",
        fewer: "lower share of in-deg-0 ancestors",
    },
    Feature {
        more: "larger node id",
        fewer: "smaller node id",
    },
    Feature {
        more: "listed first in question",
        fewer: "listed second in question",
    },
];

/// The root-agnostic feature values of one node (same order as [`FEATURES`]; `None` when
/// undefined, e.g. no in-degree-0 node reaches it).
fn features(g: &Digraph, ctx: &Context, v: usize, listed_first: bool) -> [Option<f64>; 11] {
    let down = bfs(g, v);
    let up = bfs(&ctx.reversed, v);
    let count = |b: &crate::solve::Bfs| b.dist.iter().filter(|d| d.is_some()).count() - 1;
    let ancestors = count(&up);
    // In-degree-0 nodes that reach v (v itself when it is one) and their distances.
    let from_sources: Vec<usize> = ctx.sources.iter().filter_map(|&s| up.dist[s]).collect();
    let f = |x: usize| Some(x as f64);
    [
        f(ctx.in_degree[v]),
        f(g.out(v).len()),
        f(ancestors),
        f(count(&down)),
        from_sources.iter().min().map(|&d| d as f64),
        from_sources.iter().max().map(|&d| d as f64),
        ctx.longest[v].map(|d| d as f64),
        f(from_sources.iter().filter(|&&d| d > 0).count()),
        (ancestors > 0)
            .then(|| from_sources.iter().filter(|&&d| d > 0).count() as f64 / ancestors as f64),
        f(v),
        Some(if listed_first { 1.0 } else { 0.0 }),
    ]
}

/// Per-graph data shared by both candidates.
struct Context {
    reversed: Digraph,
    in_degree: Vec<usize>,
    sources: Vec<usize>,
    /// Longest path from any in-degree-0 node (None on or below a cycle).
    longest: Vec<Option<usize>>,
}

impl Context {
    fn new(g: &Digraph) -> Context {
        let in_degree = g.in_degrees();
        let sources: Vec<usize> = (0..g.n()).filter(|&v| in_degree[v] == 0).collect();
        // Kahn's order: longest[v] = max over in-edges of longest[u] + 1.
        let mut left = in_degree.clone();
        let mut longest: Vec<Option<usize>> = vec![None; g.n()];
        let mut queue = sources.clone();
        for &s in &sources {
            longest[s] = Some(0);
        }
        let mut head = 0;
        while head < queue.len() {
            let u = queue[head];
            head += 1;
            let lu = longest[u].unwrap_or(0);
            for &v in g.out(u) {
                longest[v] = Some(longest[v].map_or(lu + 1, |l| l.max(lu + 1)));
                left[v] -= 1;
                if left[v] == 0 {
                    queue.push(v);
                }
            }
        }
        // Nodes never dequeued sit on or below a cycle: no longest path.
        let mut done = vec![false; g.n()];
        for &u in &queue {
            done[u] = true;
        }
        for (v, l) in longest.iter_mut().enumerate() {
            if !done[v] {
                *l = None;
            }
        }
        Context {
            reversed: g.reversed(),
            in_degree,
            sources,
            longest,
        }
    }
}

/// 1 when the target's side wins, 0 when the distractor's does, 1/2 on a tie.
fn score(target: Option<f64>, distractor: Option<f64>) -> f64 {
    match (target, distractor) {
        (Some(a), Some(b)) if a > b => 1.0,
        (Some(a), Some(b)) if a < b => 0.0,
        _ => 0.5,
    }
}

/// Scores the rule panel on `tasks`; `band` is the verdict's tolerance around 50%.
pub fn audit(tasks: &[ReachTask], band: f64) -> Result<AuditReport, AuditError> {
    if tasks.is_empty() {
        return Err(AuditError::NoTasks);
    }
    let nf = FEATURES.len();
    let max_budget = 2 * MAX_MEET_HOPS;
    // Sums of per-task scores and tie counts: features (larger wins), then budgets 0..=6,
    // then the full search.
    let mut sum = vec![0.0; nf + max_budget + 2];
    let mut ties = vec![0usize; nf + max_budget + 2];
    for (index, t) in tasks.iter().enumerate() {
        let g = &t.graph;
        if [t.root, t.target, t.distractor].iter().any(|&v| v >= g.n()) {
            return Err(AuditError::BadTask { index });
        }
        let ctx = Context::new(g);
        let ft = features(g, &ctx, t.target, t.target_first);
        let fd = features(g, &ctx, t.distractor, !t.target_first);
        let from_root = bfs(g, t.root);
        let found = |v: usize, s: usize| from_root.dist[v].map(|d| (d <= s) as u8 as f64);
        let budgets = (0..=max_budget).map(|s| (found(t.target, s), found(t.distractor, s)));
        let full = (found(t.target, usize::MAX), found(t.distractor, usize::MAX));
        let pairs = ft.into_iter().zip(fd).chain(budgets).chain([full]);
        for (i, (a, b)) in pairs.enumerate() {
            // Unreachable counts as "not found" for the root-aware rows.
            let (a, b) = if i >= nf {
                (a.or(Some(0.0)), b.or(Some(0.0)))
            } else {
                (a, b)
            };
            let s = score(a, b);
            sum[i] += s;
            ties[i] += (s == 0.5) as usize;
        }
    }
    let n = tasks.len() as f64;
    let mut rows = Vec::new();
    for (i, f) in FEATURES.iter().enumerate() {
        let (acc, tie) = (sum[i] / n, ties[i] as f64 / n);
        for (rule, accuracy) in [(f.more, acc), (f.fewer, 1.0 - acc)] {
            rows.push(RuleRow {
                rule: rule.to_string(),
                root_aware: false,
                accuracy,
                ties: tie,
            });
        }
    }
    for s in 0..=max_budget + 1 {
        let rule = if s <= max_budget {
            format!("root: meet within {s} hops (k+j={s})")
        } else {
            "root: full search".to_string()
        };
        rows.push(RuleRow {
            rule,
            root_aware: true,
            accuracy: sum[nf + s] / n,
            ties: ties[nf + s] as f64 / n,
        });
    }
    Ok(verdict(tasks.len(), rows, band))
}

/// Fills in the best root-agnostic rule and the verdict.
fn verdict(tasks: usize, rows: Vec<RuleRow>, band: f64) -> AuditReport {
    let best = rows
        .iter()
        .filter(|r| !r.root_aware)
        .fold(None::<&RuleRow>, |b, r| match b {
            Some(b) if b.accuracy >= r.accuracy => Some(b),
            _ => Some(r),
        });
    let (best_root_agnostic, best_rule) =
        best.map_or((0.5, String::new()), |r| (r.accuracy, r.rule.clone()));
    let shortcut_free = best_root_agnostic <= 0.5 + band + 1e-12;
    let verdict = if shortcut_free {
        format!(
            "shortcut-free: every root-agnostic rule within 50 ± {:.0}% (best: {best_rule}, {:.1}%)",
            100.0 * band,
            100.0 * best_root_agnostic
        )
    } else {
        format!(
            "shortcuts: rule \"{best_rule}\" scores {:.1}% without reading the root",
            100.0 * best_root_agnostic
        )
    };
    AuditReport {
        tasks,
        rows,
        best_root_agnostic,
        best_rule,
        band,
        shortcut_free,
        verdict,
    }
}

impl AuditReport {
    /// The row of a rule, by name.
    pub fn row(&self, rule: &str) -> Option<&RuleRow> {
        self.rows.iter().find(|r| r.rule == rule)
    }

    /// An aligned text table: rule, reads root, accuracy %, ties %.
    pub fn to_table(&self) -> String {
        let w = self
            .rows
            .iter()
            .map(|r| r.rule.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut s = format!(
            "{:<w$}  {:>5}  {:>8}  {:>6}\n",
            "rule", "root", "accuracy", "ties"
        );
        for r in &self.rows {
            s.push_str(&format!(
                "{:<w$}  {:>5}  {:>7.1}%  {:>5.1}%\n",
                r.rule,
                if r.root_aware { "yes" } else { "no" },
                100.0 * r.accuracy,
                100.0 * r.ties
            ));
        }
        s
    }
}
