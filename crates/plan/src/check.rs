//! Static checks of the PDDL front end, each error with its `file:line:col`: in a domain,
//! predicates used by actions are declared with the right arity and every type exists; between
//! a problem and its domain, the domain name matches, objects have one known type, and every
//! `:init` and `:goal` atom names a declared predicate with the right number of arguments, of the
//! right types, and every `:init` function value (action costs) a declared function of its arity
//! over known objects. Names that a domain's actions use as constants without declaring them
//! (IPC-1 tyreworld's `wrench`) are resolved against the problem's objects, with a note, as Fast
//! Downward and pyperplan do.

use std::collections::{HashMap, HashSet};

use crate::pddl::{Atom, Domain, PddlError, Pos, Problem, Term};
use crate::sexpr::Ctx;

/// The domain's type names (declared types, their parents and `object`) with their parents.
struct Types<'a> {
    parent: HashMap<&'a str, &'a str>,
    known: HashSet<&'a str>,
}

impl<'a> Types<'a> {
    fn new(d: &'a Domain) -> Self {
        let mut parent = HashMap::new();
        let mut known: HashSet<&str> = HashSet::from(["object"]);
        for (t, p) in &d.types {
            known.insert(t);
            known.insert(p);
            if t != "object" {
                parent.insert(t.as_str(), p.as_str());
            }
        }
        Types { parent, known }
    }
    /// Is `t` equal to `want` or one of its subtypes? (Cycles end the walk.)
    fn is_a(&self, t: &str, want: &str) -> bool {
        if want == "object" {
            return true;
        }
        let mut cur = t;
        for _ in 0..=self.parent.len() {
            if cur == want {
                return true;
            }
            match self.parent.get(cur) {
                Some(p) => cur = *p,
                None => return false,
            }
        }
        false
    }
}

/// Checks a domain; returns the undeclared constants its actions use (resolved per problem).
pub(crate) fn check_domain(ctx: &Ctx, d: &Domain) -> Result<Vec<(String, Pos)>, PddlError> {
    let types = Types::new(d);
    let unknown_type =
        |ty: &str, pos: Pos, what: String| ctx.err(pos, format!("unknown type `{ty}` in {what}"));
    for p in &d.predicates {
        if let Some(t) = p
            .params
            .iter()
            .find(|t| !types.known.contains(t.ty.as_str()))
        {
            return Err(unknown_type(
                &t.ty,
                t.pos,
                format!("predicate `{}`", p.name),
            ));
        }
    }
    if let Some(c) = d
        .constants
        .iter()
        .find(|c| !types.known.contains(c.ty.as_str()))
    {
        return Err(unknown_type(&c.ty, c.pos, format!("constant `{}`", c.name)));
    }
    let mut free: Vec<(String, Pos)> = Vec::new();
    for a in &d.actions {
        if let Some(p) = a
            .params
            .iter()
            .find(|p| !types.known.contains(p.ty.as_str()))
        {
            return Err(unknown_type(&p.ty, p.pos, format!("action `{}`", a.name)));
        }
        let atoms = a.precondition.iter().map(|l| &l.atom);
        for at in atoms.chain(&a.add).chain(&a.del) {
            check_arity(ctx, d, at)?;
            for t in &at.args {
                if let Term::Const(c) = t {
                    if !d.constants.iter().any(|k| &k.name == c)
                        && !free.iter().any(|(n, _)| n == c)
                    {
                        free.push((c.clone(), at.pos));
                    }
                }
            }
        }
    }
    Ok(free)
}

/// The atom names a declared predicate (or `=`) with the right number of arguments.
fn check_arity(ctx: &Ctx, d: &Domain, at: &Atom) -> Result<(), PddlError> {
    if at.predicate == "=" {
        if at.args.len() != 2 {
            return Err(ctx.err(at.pos, "`=` takes two arguments"));
        }
        return Ok(());
    }
    match d.predicates.iter().find(|p| p.name == at.predicate) {
        None => Err(ctx.err(at.pos, format!("undeclared predicate `{}`", at.predicate))),
        Some(p) if p.params.len() != at.args.len() => Err(ctx.err(
            at.pos,
            format!(
                "predicate `{}` takes {} arguments, given {}",
                p.name,
                p.params.len(),
                at.args.len()
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// Checks `problem` against `domain`; returns the notes to show the user (the parse notes of
/// both files and the constants resolved against the problem's objects).
pub fn check(domain: &Domain, problem: &Problem) -> Result<Vec<String>, PddlError> {
    let dctx = Ctx { file: &domain.file };
    let ctx = Ctx {
        file: &problem.file,
    };
    if !problem.domain.is_empty() && problem.domain != domain.name {
        return Err(ctx.err(
            problem.domain_pos,
            format!(
                "the problem is for domain `{}`, but {} defines domain `{}`",
                problem.domain, domain.file, domain.name
            ),
        ));
    }
    let types = Types::new(domain);
    // Object name -> (type, where declared); domain constants first.
    let mut objects: HashMap<&str, (&str, Pos, &Ctx)> = HashMap::new();
    let declared = domain.constants.iter().map(|c| (c, &dctx));
    for (o, octx) in declared.chain(problem.objects.iter().map(|o| (o, &ctx))) {
        if !types.known.contains(o.ty.as_str()) {
            return Err(octx.err(
                o.pos,
                format!("object `{}` has unknown type `{}`", o.name, o.ty),
            ));
        }
        match objects.get(o.name.as_str()) {
            // The same object twice with one type: accepted (IPC files do this).
            Some((ty, _, _)) if *ty == o.ty => {}
            Some((ty, p, pctx)) => {
                return Err(octx.err(
                    o.pos,
                    format!(
                    "object `{}` is declared with type `{}` here and with type `{ty}` at {}:{}:{}",
                    o.name, o.ty, pctx.file, p.line, p.col
                ),
                ))
            }
            None => {
                objects.insert(&o.name, (&o.ty, o.pos, octx));
            }
        }
    }
    let mut notes: Vec<String> = domain.notes.iter().chain(&problem.notes).cloned().collect();
    for (name, pos) in &domain.free_constants {
        if !problem.objects.iter().any(|o| &o.name == name) {
            return Err(dctx.err(
                *pos,
                format!(
                    "unknown constant `{name}` (not in `:constants` nor in the objects of {})",
                    problem.file
                ),
            ));
        }
        notes.push(format!(
            "{}:{}:{}: note: `{name}` is not in `:constants`; it names the object `{name}` of {}",
            domain.file, pos.line, pos.col, problem.file
        ));
    }
    let ground_atom = |pred: &str, args: &[&str], pos: Pos| -> Result<(), PddlError> {
        let atom = Atom {
            predicate: pred.to_string(),
            args: args.iter().map(|a| Term::Const(a.to_string())).collect(),
            pos,
        };
        check_arity(&ctx, domain, &atom)?;
        let params = domain.predicates.iter().find(|p| p.name == pred);
        for (i, a) in args.iter().enumerate() {
            let Some((ty, _, _)) = objects.get(a) else {
                return Err(ctx.err(pos, format!("unknown object `{a}` in `({pred} ...)`")));
            };
            if let Some(want) = params.map(|p| p.params[i].ty.as_str()) {
                if !types.is_a(ty, want) {
                    return Err(ctx.err(
                        pos,
                        format!(
                            "argument {} of `{pred}` must be of type `{want}`, but `{a}` is a `{ty}`",
                            i + 1
                        ),
                    ));
                }
            }
        }
        Ok(())
    };
    for (i, g) in problem.init.iter().enumerate() {
        let pos = problem.init_pos.get(i).copied().unwrap_or_default();
        let args: Vec<&str> = g.args.iter().map(String::as_str).collect();
        ground_atom(&g.predicate, &args, pos)?;
    }
    for l in &problem.goal {
        let args: Vec<&str> = l
            .atom
            .args
            .iter()
            .map(|t| match t {
                Term::Const(c) | Term::Var(c) => c.as_str(),
            })
            .collect();
        ground_atom(&l.atom.predicate, &args, l.atom.pos)?;
    }
    check_function_values(&ctx, domain, problem, |o| objects.contains_key(o))?;
    Ok(notes)
}

/// Each `:init` function value (action costs) names a declared function of its arity over
/// objects that `known` accepts.
fn check_function_values(
    ctx: &Ctx,
    domain: &Domain,
    problem: &Problem,
    known: impl Fn(&str) -> bool,
) -> Result<(), PddlError> {
    for (f, _, pos) in &problem.function_values {
        match domain.functions.iter().find(|d| d.name == f.predicate) {
            None => {
                return Err(ctx.err(
                    *pos,
                    format!(
                        "function `{}` is not declared in the domain's `:functions`",
                        f.predicate
                    ),
                ))
            }
            Some(d) if d.params.len() != f.args.len() => {
                return Err(ctx.err(
                    *pos,
                    format!(
                        "function `{}` takes {} arguments, given {}",
                        f.predicate,
                        d.params.len(),
                        f.args.len()
                    ),
                ))
            }
            Some(_) => {}
        }
        if let Some(a) = f.args.iter().find(|a| !known(a)) {
            return Err(ctx.err(*pos, format!("unknown object `{a}` in `{f}`")));
        }
    }
    Ok(())
}
