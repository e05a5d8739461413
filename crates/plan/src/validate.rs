//! Plan validation by simulation on the lifted PDDL (independent of the grounder): every step's
//! preconditions must hold, effects are applied delete-then-add, and the goal must hold at the
//! end. Also parses IPC plan files (`(action arg ...)` lines, `;` comments, optional `t:`
//! prefixes and `[duration]` suffixes).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use crate::pddl::{Domain, GroundAtom, Problem, Term};

/// A malformed plan file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PlanError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Why a plan is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Step `step` (1-based) cannot be applied.
    #[error("step {step} {action}: {reason}")]
    Step {
        step: usize,
        action: String,
        reason: String,
    },
    /// All steps apply but the goal does not hold at the end.
    #[error("goal not satisfied after {steps} steps: {} missing ({})", missing.len(), missing.join(" "))]
    Goal { steps: usize, missing: Vec<String> },
}

/// One line of a plan file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    pub line: usize,
    pub call: String,
}

/// Parse an IPC plan file into action calls.
pub fn parse_plan_file(path: impl AsRef<Path>) -> Result<Vec<PlanLine>, PlanError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PlanError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read file: {e}"),
    })?;
    parse_plan_text(&text, &file)
}

/// Parse plan text (`file` names it in errors).
pub fn parse_plan_text(text: &str, file: &str) -> Result<Vec<PlanLine>, PlanError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |m: &str| PlanError {
            file: file.to_string(),
            line: i + 1,
            message: m.to_string(),
        };
        let open = line
            .find('(')
            .ok_or_else(|| err("expected `(action arg ...)`"))?;
        let close = line[open..].find(')').ok_or_else(|| err("missing `)`"))? + open;
        let prefix = line[..open].trim();
        if !prefix.is_empty() && !prefix.ends_with(':') {
            return Err(err(&format!("unexpected `{prefix}` before the action")));
        }
        let inner = &line[open + 1..close];
        if inner.contains('(') {
            return Err(err("nested parentheses in an action"));
        }
        if inner.split_whitespace().next().is_none() {
            return Err(err("empty action `()`"));
        }
        out.push(PlanLine {
            line: i + 1,
            call: crate::ground::normalise_call(inner),
        });
    }
    Ok(out)
}

/// A successful validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationReport {
    pub steps: usize,
    /// The plan's cost: its number of steps, or under IPC action costs the sum of what its
    /// actions add to `total-cost`.
    pub cost: f64,
    /// The domain declares action costs (`total-cost`).
    pub general_cost: bool,
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plan valid: {} steps, ", self.steps)?;
        if self.general_cost {
            write!(f, "cost {}, ", self.cost)?;
        }
        write!(f, "goal satisfied")
    }
}

/// Simulate `calls` (`(name arg ...)`) from the initial state of `problem`.
pub fn validate_plan<S: AsRef<str>>(
    domain: &Domain,
    problem: &Problem,
    calls: &[S],
) -> Result<ValidationReport, ValidationError> {
    let obj_types = object_types(domain, problem);
    let values = problem.function_value_map();
    let costs = domain.has_action_costs().then_some(&values);
    let mut state: HashSet<GroundAtom> = problem.init.iter().cloned().collect();
    let mut cost = 0.0;
    for (i, call) in calls.iter().enumerate() {
        cost += apply_call(domain, &obj_types, costs, &mut state, i + 1, call.as_ref())?;
    }
    let missing = missing_goals(problem, &state);
    if !missing.is_empty() {
        return Err(ValidationError::Goal {
            steps: calls.len(),
            missing,
        });
    }
    Ok(ValidationReport {
        steps: calls.len(),
        cost,
        general_cost: costs.is_some(),
    })
}

/// The types of each object (constants and problem objects) with their ancestors.
fn object_types<'a>(
    domain: &'a Domain,
    problem: &'a Problem,
) -> HashMap<&'a str, HashSet<&'a str>> {
    let parent: HashMap<&str, &str> = domain
        .types
        .iter()
        .map(|(t, p)| (t.as_str(), p.as_str()))
        .collect();
    let mut obj_types: HashMap<&str, HashSet<&str>> = HashMap::new();
    for o in domain.constants.iter().chain(&problem.objects) {
        let e = obj_types.entry(o.name.as_str()).or_default();
        let mut t = o.ty.as_str();
        e.insert("object");
        for _ in 0..100 {
            e.insert(t);
            match parent.get(t) {
                Some(p) if *p != t => t = p,
                _ => break,
            }
        }
    }
    obj_types
}

/// Does the ground literal's atom hold in `state` (`=` compares its arguments)?
fn holds(state: &HashSet<GroundAtom>, g: &GroundAtom) -> bool {
    if g.predicate == "=" {
        g.args[0] == g.args[1]
    } else {
        state.contains(g)
    }
}

/// Why the precondition `g` (negated unless `positive`) is violated.
fn violated(g: &GroundAtom, positive: bool) -> String {
    if g.predicate == "=" {
        format!(
            "{} {} {}",
            g.args[0],
            if positive { "!=" } else { "=" },
            g.args[1]
        )
    } else if positive {
        format!("precondition {g} is false")
    } else {
        format!("precondition (not {g}) is false")
    }
}

/// Check and apply step `step`, the call `call`, to `state` (delete then add); its cost (1
/// without action costs, else its `total-cost` increase, function terms read from `values`).
fn apply_call(
    domain: &Domain,
    obj_types: &HashMap<&str, HashSet<&str>>,
    values: Option<&HashMap<&GroundAtom, f64>>,
    state: &mut HashSet<GroundAtom>,
    step: usize,
    call: &str,
) -> Result<f64, ValidationError> {
    let call = crate::ground::normalise_call(call);
    let fail = |reason: String| ValidationError::Step {
        step,
        action: call.clone(),
        reason,
    };
    let toks: Vec<&str> = call[1..call.len() - 1].split_whitespace().collect();
    let Some((name, args)) = toks.split_first() else {
        return Err(fail("empty action".into()));
    };
    let schema = domain
        .actions
        .iter()
        .find(|a| a.name == *name)
        .ok_or_else(|| fail(format!("unknown action `{name}`")))?;
    if schema.params.len() != args.len() {
        return Err(fail(format!(
            "`{name}` takes {} arguments, given {}",
            schema.params.len(),
            args.len()
        )));
    }
    let mut bind: HashMap<&str, &str> = HashMap::new();
    for (p, a) in schema.params.iter().zip(args) {
        let types = obj_types
            .get(a)
            .ok_or_else(|| fail(format!("unknown object `{a}`")))?;
        if !types.contains(p.ty.as_str()) {
            return Err(fail(format!(
                "object `{a}` is not of type `{}` (parameter {})",
                p.ty, p.name
            )));
        }
        bind.insert(p.name.as_str(), a);
    }
    let ground = |at: &crate::pddl::Atom| GroundAtom {
        predicate: at.predicate.clone(),
        args: at
            .args
            .iter()
            .map(|t| match t {
                Term::Var(v) => bind[v.as_str()].to_string(),
                Term::Const(c) => c.clone(),
            })
            .collect(),
    };
    for l in &schema.precondition {
        let g = ground(&l.atom);
        if holds(state, &g) != l.positive {
            return Err(fail(violated(&g, l.positive)));
        }
    }
    let dels: Vec<GroundAtom> = schema.del.iter().map(ground).collect();
    let adds: Vec<GroundAtom> = schema.add.iter().map(ground).collect();
    for d in dels {
        state.remove(&d);
    }
    for a in adds {
        state.insert(a);
    }
    let Some(values) = values else {
        return Ok(1.0);
    };
    let arg = |t: &Term| match t {
        Term::Var(v) => bind[v.as_str()].to_string(),
        Term::Const(c) => c.clone(),
    };
    schema
        .cost_under(values, arg)
        .map_err(|g| fail(format!("no value for {g} in `:init` (its cost)")))
}

/// The goal literals that do not hold in `state`, as `(p ...)` or `(not (p ...))`.
fn missing_goals(problem: &Problem, state: &HashSet<GroundAtom>) -> Vec<String> {
    let mut missing = Vec::new();
    for l in &problem.goal {
        let g = GroundAtom {
            predicate: l.atom.predicate.clone(),
            args: l
                .atom
                .args
                .iter()
                .map(|t| match t {
                    Term::Var(v) | Term::Const(v) => v.clone(),
                })
                .collect(),
        };
        if holds(state, &g) != l.positive {
            missing.push(if l.positive {
                g.to_string()
            } else {
                format!("(not {g})")
            });
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_file_formats() {
        let text = "; a comment\n(Pick-Up  A)\n0.001: (stack a b) [1]\n\n(put-down c) ; trailing\n; cost = 3 (unit cost)\n";
        let lines = parse_plan_text(text, "p.plan").unwrap();
        let calls: Vec<(usize, &str)> = lines.iter().map(|l| (l.line, l.call.as_str())).collect();
        assert_eq!(
            calls,
            vec![(2, "(pick-up a)"), (3, "(stack a b)"), (5, "(put-down c)")]
        );
        let e = parse_plan_text("(a b)\nstack a b\n", "q.plan").unwrap_err();
        assert_eq!(e.to_string(), "q.plan:2: expected `(action arg ...)`");
        let e = parse_plan_text("(a (b))\n", "r.plan").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (1, "nested parentheses in an action")
        );
    }
}
