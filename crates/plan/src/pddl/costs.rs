//! IPC-2008 action costs in the PDDL front end: `(:functions ...)` declarations (`- number`
//! only), `(increase (total-cost) X)` effects with X a non-negative number or a function term,
//! the checks between them, and `(= (f o ...) n)` values in a problem's `:init`. Everything else
//! numeric is refused where it is written.

use std::collections::HashMap;

use super::{
    atom_str, expect_atom, parse_atom, parse_typed_list, ActionSchema, CostTerm, Domain,
    FunctionDecl, GroundAtom, PddlError, Pos, Problem, SExpr, Term, TOTAL_COST,
};
use crate::sexpr::Ctx;

impl Problem {
    /// The `:init` function values by function term (action costs).
    pub fn function_value_map(&self) -> HashMap<&GroundAtom, f64> {
        self.function_values
            .iter()
            .map(|(f, v, _)| (f, *v))
            .collect()
    }
}

impl ActionSchema {
    /// What one application adds to `total-cost`: its `(increase (total-cost) X)` terms summed,
    /// a function term's arguments bound by `arg` (a parameter's object, or the constant) and
    /// its value read from `values` ([`Problem::function_value_map`]). `Err`: the ground term
    /// that has no value. The grounder and the validator both ask this.
    pub fn cost_under(
        &self,
        values: &HashMap<&GroundAtom, f64>,
        arg: impl Fn(&Term) -> String,
    ) -> Result<f64, GroundAtom> {
        let mut cost = 0.0;
        for t in &self.cost {
            cost += match t {
                CostTerm::Number(x) => *x,
                CostTerm::Function(f) => {
                    let term = GroundAtom {
                        predicate: f.predicate.clone(),
                        args: f.args.iter().map(&arg).collect(),
                    };
                    *values.get(&term).ok_or(term)?
                }
            };
        }
        Ok(cost)
    }
}

/// `(increase (total-cost) X)`: X a non-negative number or a function term. Any other numeric
/// effect is refused.
pub(super) fn parse_cost(ctx: &Ctx, items: &[SExpr], pos: Pos) -> Result<CostTerm, PddlError> {
    let fluent = items.get(1).and_then(|f| match f {
        SExpr::List(l, _) if l.len() == 1 => atom_str(&l[0]),
        _ => None,
    });
    if fluent != Some(TOTAL_COST) {
        return Err(ctx.unsupported(
            pos,
            "numeric fluents (`increase` of a function other than `(total-cost)`)",
        ));
    }
    let value = match items {
        [_, _, v] => v,
        _ => return Err(ctx.err(pos, "`increase` takes `(total-cost)` and one value")),
    };
    match value {
        SExpr::Atom(s, p) => match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(CostTerm::Number(x)),
            _ => Err(ctx.err(
                *p,
                format!(
                    "an action cost must be a non-negative number or a function term, found `{s}`"
                ),
            )),
        },
        SExpr::List(l, p) => {
            if let Some(op) = l
                .first()
                .and_then(atom_str)
                .filter(|h| ["+", "-", "*", "/"].contains(h))
            {
                return Err(ctx.unsupported(*p, &format!("arithmetic (`{op}`) in an action cost")));
            }
            Ok(CostTerm::Function(parse_atom(ctx, value)?))
        }
    }
}

/// `(:functions (f ?x - t) - number ...)`: each declaration's type must be `number`.
pub(super) fn parse_functions(ctx: &Ctx, items: &[SExpr]) -> Result<Vec<FunctionDecl>, PddlError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        match &items[i] {
            SExpr::List(l, p) => {
                let head = l
                    .first()
                    .ok_or_else(|| ctx.err(*p, "empty function declaration"))?;
                out.push(FunctionDecl {
                    name: expect_atom(ctx, head, "a function name")?.to_string(),
                    params: parse_typed_list(ctx, &l[1..], true)?,
                    pos: *p,
                });
                i += 1;
            }
            SExpr::Atom(s, p) if s == "-" => {
                match items.get(i + 1) {
                    Some(SExpr::Atom(t, _)) if t == "number" => {}
                    Some(t) => {
                        return Err(ctx.unsupported(
                            t.pos(),
                            "object fluents (a function type other than `number`)",
                        ))
                    }
                    None => return Err(ctx.err(*p, "missing type after `-`")),
                }
                i += 2;
            }
            SExpr::Atom(s, p) => {
                return Err(ctx.err(
                    *p,
                    format!("expected a function declaration `(f ...)`, found `{s}`"),
                ))
            }
        }
    }
    Ok(out)
}

/// Every `(increase (total-cost) ...)` needs `total-cost` declared, and every function term in
/// a cost a declared function of its arity.
pub(super) fn check_costs(ctx: &Ctx, d: &Domain) -> Result<(), PddlError> {
    for a in d.actions.iter().filter(|a| !a.cost.is_empty()) {
        if !d.has_action_costs() {
            return Err(ctx.err(
                a.pos,
                format!(
                    "action `{}` increases `total-cost`, which `:functions` does not declare",
                    a.name
                ),
            ));
        }
        for t in &a.cost {
            let CostTerm::Function(f) = t else { continue };
            match d.functions.iter().find(|x| x.name == f.predicate) {
                Some(x) if x.name == TOTAL_COST => {
                    return Err(ctx.unsupported(
                        f.pos,
                        "numeric fluents (`total-cost` read in an action cost)",
                    ))
                }
                Some(x) if x.params.len() == f.args.len() => {}
                Some(x) => {
                    return Err(ctx.err(
                        f.pos,
                        format!(
                            "function `{}` takes {} arguments, given {}",
                            f.predicate,
                            x.params.len(),
                            f.args.len()
                        ),
                    ))
                }
                None => {
                    return Err(ctx.err(
                        f.pos,
                        format!("function `{}` is not declared in `:functions`", f.predicate),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// `(= (f o ...) n)` in `:init`: a numeric function's value (a non-negative number).
pub(super) fn parse_function_value(
    ctx: &Ctx,
    l: &[SExpr],
    pos: Pos,
) -> Result<(GroundAtom, f64, Pos), PddlError> {
    let [_, term, value] = l else {
        return Err(ctx.err(pos, "`=` in `:init` takes a function term and a number"));
    };
    let SExpr::List(t, tp) = term else {
        return Err(ctx.unsupported(term.pos(), "object fluents (`=` of two names in `:init`)"));
    };
    let head = t
        .first()
        .ok_or_else(|| ctx.err(*tp, "empty function term `()`"))?;
    let mut args = Vec::new();
    for a in &t[1..] {
        args.push(expect_atom(ctx, a, "an object name")?.to_string());
    }
    let v = expect_atom(ctx, value, "a number")?;
    let x = v
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| {
            ctx.err(
                value.pos(),
                format!("expected a non-negative number, found `{v}`"),
            )
        })?;
    let atom = GroundAtom {
        predicate: expect_atom(ctx, head, "a function name")?.to_string(),
        args,
    };
    Ok((atom, x, pos))
}
