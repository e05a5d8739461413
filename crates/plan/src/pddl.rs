//! PDDL front end: a recursive-descent parser for the STRIPS subset (`:strips`, `:typing` with
//! hierarchies, `:negative-preconditions`, `:equality`, constants) over the S-expressions of
//! `sexpr.rs`, plus IPC-2008's `:action-costs` (`total-cost`, `(increase (total-cost) X)` with a
//! number or a static function term, `(= (f o ...) n)` in `:init`, `(:metric minimize
//! (total-cost))`): the costs are read so that each plan's cost can be reported, and no planner
//! here minimises them. Everything else is refused with `file:line:col: unsupported feature X`;
//! the checks between a domain and a problem live in `check.rs`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::sexpr::{read_sexpr, tokenize, Ctx, Tok};

mod costs;
pub use crate::sexpr::{PddlError, Pos, SExpr, MAX_DEPTH};
use costs::{check_costs, parse_cost, parse_function_value, parse_functions};

/// A term in an atom: a variable `?x` or a constant/object name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    Var(String),
    Const(String),
}

/// `(pred t1 ... tn)`; the predicate `=` is equality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    pub predicate: String,
    pub args: Vec<Term>,
    pub pos: Pos,
}

/// An atom or its negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub atom: Atom,
    pub positive: bool,
}

/// A typed name `x - t` (type `object` when untyped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    pub name: String,
    pub ty: String,
    /// Where the name is written.
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct PredicateDecl {
    pub name: String,
    pub params: Vec<Typed>,
    pub pos: Pos,
}

/// The function of IPC action costs: every action's `(increase (total-cost) X)` adds to it.
pub const TOTAL_COST: &str = "total-cost";

/// A numeric function declared in `:functions` (`- number`).
#[derive(Debug, Clone)]
pub struct FunctionDecl {
    pub name: String,
    pub params: Vec<Typed>,
    pub pos: Pos,
}

/// What one `(increase (total-cost) X)` of an action adds: a number, or a function term whose
/// value the problem's `:init` gives (`(road-length ?from ?to)`).
#[derive(Debug, Clone, PartialEq)]
pub enum CostTerm {
    Number(f64),
    Function(Atom),
}

/// A STRIPS action schema.
#[derive(Debug, Clone)]
pub struct ActionSchema {
    pub name: String,
    pub params: Vec<Typed>,
    pub precondition: Vec<Literal>,
    pub add: Vec<Atom>,
    pub del: Vec<Atom>,
    /// The terms its `(increase (total-cost) X)` effects add (empty: cost 0 in a domain with
    /// action costs).
    pub cost: Vec<CostTerm>,
    pub pos: Pos,
}

/// A parsed domain.
#[derive(Debug, Clone)]
pub struct Domain {
    pub name: String,
    pub file: String,
    pub requirements: Vec<String>,
    /// `(type, parent)`; parent `object` when not given.
    pub types: Vec<(String, String)>,
    pub constants: Vec<Typed>,
    pub predicates: Vec<PredicateDecl>,
    pub actions: Vec<ActionSchema>,
    /// `:functions` (action costs only: `total-cost` and the static functions costs name).
    pub functions: Vec<FunctionDecl>,
    /// Names used as constants in action atoms but not declared in `:constants` (IPC-1
    /// tyreworld's `wrench`); [`crate::check::check`] resolves them against a problem's objects.
    pub free_constants: Vec<(String, Pos)>,
    /// Notes for the user (`file:line:col: note: ...`), e.g. requirements declared but not used.
    pub notes: Vec<String>,
}

/// A ground atom `(pred obj ...)` from a problem file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroundAtom {
    pub predicate: String,
    pub args: Vec<String>,
}

impl fmt::Display for GroundAtom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}", self.predicate)?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        write!(f, ")")
    }
}

impl Domain {
    /// Does the domain declare IPC action costs (`total-cost` in `:functions`)?
    pub fn has_action_costs(&self) -> bool {
        self.functions.iter().any(|f| f.name == TOTAL_COST)
    }
}

/// A parsed problem.
#[derive(Debug, Clone)]
pub struct Problem {
    pub name: String,
    pub file: String,
    pub domain: String,
    /// Where the `:domain` name is written.
    pub domain_pos: Pos,
    pub objects: Vec<Typed>,
    pub init: Vec<GroundAtom>,
    /// Where each `:init` atom is written (parallel to `init`).
    pub init_pos: Vec<Pos>,
    /// `(= (f o ...) n)` of `:init`: the values of numeric functions (action costs), where each
    /// is written.
    pub function_values: Vec<(GroundAtom, f64, Pos)>,
    /// Goal literals over objects (terms are all `Term::Const`).
    pub goal: Vec<Literal>,
    /// Notes for the user (`file:line:col: note: ...`).
    pub notes: Vec<String>,
}

const SUPPORTED_REQUIREMENTS: &[&str] = &[
    ":strips",
    ":typing",
    ":negative-preconditions",
    ":equality",
    ":action-costs",
];

/// Requirement flags of PDDL 1.2–3.1 that this planner does not implement. Like pyperplan, a
/// domain may declare them: a note is printed and the construct itself is refused with its
/// `file:line:col` where it is used (`forall`, `when`, `:functions`, ...).
const OTHER_REQUIREMENTS: &[&str] = &[
    ":adl",
    ":disjunctive-preconditions",
    ":existential-preconditions",
    ":universal-preconditions",
    ":quantified-preconditions",
    ":conditional-effects",
    ":fluents",
    ":numeric-fluents",
    ":object-fluents",
    ":durative-actions",
    ":duration-inequalities",
    ":continuous-effects",
    ":derived-predicates",
    ":domain-axioms",
    ":timed-initial-literals",
    ":preferences",
    ":constraints",
    ":safety-constraints",
    ":expression-evaluation",
    ":open-world",
    ":true-negation",
    ":ucpop",
];

/// Reads a `:requirements` section: supported flags are returned, flags of constructs we do not
/// implement become notes, and a flag PDDL does not define is an error.
fn parse_requirements(
    ctx: &Ctx,
    items: &[SExpr],
    notes: &mut Vec<String>,
) -> Result<Vec<String>, PddlError> {
    let mut out = Vec::new();
    for r in items {
        let r_s = expect_atom(ctx, r, "a requirement flag")?;
        if SUPPORTED_REQUIREMENTS.contains(&r_s) {
            out.push(r_s.to_string());
        } else if OTHER_REQUIREMENTS.contains(&r_s) {
            let p = r.pos();
            notes.push(format!(
                "{}:{}:{}: note: requirement `{r_s}` is declared; only its STRIPS part is \
                 supported (an unsupported construct is refused where it is used)",
                ctx.file, p.line, p.col
            ));
        } else {
            return Err(ctx.err(r.pos(), format!("unknown requirement `{r_s}`")));
        }
    }
    Ok(out)
}

fn atom_str(e: &SExpr) -> Option<&str> {
    match e {
        SExpr::Atom(s, _) => Some(s),
        _ => None,
    }
}

fn expect_list<'a>(ctx: &Ctx, e: &'a SExpr, what: &str) -> Result<&'a [SExpr], PddlError> {
    match e {
        SExpr::List(v, _) => Ok(v),
        SExpr::Atom(s, p) => Err(ctx.err(*p, format!("expected {what}, found `{s}`"))),
    }
}

fn expect_atom<'a>(ctx: &Ctx, e: &'a SExpr, what: &str) -> Result<&'a str, PddlError> {
    match e {
        SExpr::Atom(s, _) => Ok(s),
        SExpr::List(_, p) => Err(ctx.err(*p, format!("expected {what}, found a list"))),
    }
}

/// Parse `a b - t c - u d` into typed names (untyped names get `object`).
fn parse_typed_list(ctx: &Ctx, items: &[SExpr], vars: bool) -> Result<Vec<Typed>, PddlError> {
    let mut out = Vec::new();
    let mut pending: Vec<(String, Pos)> = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let s = match &items[i] {
            SExpr::Atom(s, _) => s.as_str(),
            SExpr::List(l, p) => {
                if l.first().and_then(atom_str) == Some("either") {
                    return Err(ctx.unsupported(*p, "`either` types"));
                }
                return Err(ctx.err(*p, "expected a name in a typed list, found a list"));
            }
        };
        if s == "-" {
            let t = items
                .get(i + 1)
                .ok_or_else(|| ctx.err(items[i].pos(), "missing type after `-`"))?;
            let ty = match t {
                SExpr::Atom(t, _) => t.clone(),
                SExpr::List(l, p) => {
                    if l.first().and_then(atom_str) == Some("either") {
                        return Err(ctx.unsupported(*p, "`either` types"));
                    }
                    return Err(ctx.err(*p, "expected a type name after `-`"));
                }
            };
            if pending.is_empty() {
                return Err(ctx.err(items[i].pos(), "`-` with no names before it"));
            }
            for (n, pos) in pending.drain(..) {
                out.push(Typed {
                    name: n,
                    ty: ty.clone(),
                    pos,
                });
            }
            i += 2;
            continue;
        }
        if vars && !s.starts_with('?') {
            return Err(ctx.err(
                items[i].pos(),
                format!("expected a variable `?x`, found `{s}`"),
            ));
        }
        pending.push((s.to_string(), items[i].pos()));
        i += 1;
    }
    for (n, pos) in pending {
        out.push(Typed {
            name: n,
            ty: "object".into(),
            pos,
        });
    }
    Ok(out)
}

fn parse_term(s: &str) -> Term {
    if s.starts_with('?') {
        Term::Var(s.to_string())
    } else {
        Term::Const(s.to_string())
    }
}

const UNSUPPORTED_HEADS: &[(&str, &str)] = &[
    ("or", "disjunction (`or`)"),
    ("imply", "disjunction (`imply`)"),
    ("forall", "quantifiers (`forall`)"),
    ("exists", "quantifiers (`exists`)"),
    ("when", "conditional effects (`when`)"),
    ("increase", "numeric fluents (`increase`)"),
    ("decrease", "numeric fluents (`decrease`)"),
    ("assign", "numeric fluents (`assign`)"),
    ("scale-up", "numeric fluents (`scale-up`)"),
    ("scale-down", "numeric fluents (`scale-down`)"),
    ("<", "numeric comparisons (`<`)"),
    (">", "numeric comparisons (`>`)"),
    ("<=", "numeric comparisons (`<=`)"),
    (">=", "numeric comparisons (`>=`)"),
    ("at start", "durative actions"),
    ("at end", "durative actions"),
    ("over", "durative actions"),
    ("preference", "preferences"),
];

fn parse_atom(ctx: &Ctx, e: &SExpr) -> Result<Atom, PddlError> {
    let items = expect_list(ctx, e, "an atom `(predicate ...)`")?;
    let pos = e.pos();
    let head = items
        .first()
        .ok_or_else(|| ctx.err(pos, "empty atom `()`"))?;
    let pred = expect_atom(ctx, head, "a predicate name")?;
    if let Some((_, what)) = UNSUPPORTED_HEADS.iter().find(|(h, _)| *h == pred) {
        return Err(ctx.unsupported(pos, what));
    }
    if pred == "and" || pred == "not" {
        return Err(ctx.err(pos, format!("`{pred}` is not allowed here")));
    }
    let mut args = Vec::new();
    for a in &items[1..] {
        match a {
            SExpr::Atom(s, _) => args.push(parse_term(s)),
            SExpr::List(_, p) => {
                return Err(ctx.unsupported(*p, "nested terms (function terms / numeric fluents)"))
            }
        }
    }
    Ok(Atom {
        predicate: pred.to_string(),
        args,
        pos,
    })
}

/// Flatten a condition (`and` of literals) into literals.
fn parse_condition(ctx: &Ctx, e: &SExpr, out: &mut Vec<Literal>) -> Result<(), PddlError> {
    let items = expect_list(ctx, e, "a condition")?;
    match items.first().and_then(atom_str) {
        None if items.is_empty() => Ok(()), // `()` = empty condition
        Some("and") => {
            for c in &items[1..] {
                parse_condition(ctx, c, out)?;
            }
            Ok(())
        }
        Some("not") => {
            if items.len() != 2 {
                return Err(ctx.err(e.pos(), "`not` takes exactly one argument"));
            }
            let inner = expect_list(ctx, &items[1], "an atom after `not`")?;
            if let Some(h) = inner.first().and_then(atom_str) {
                if h == "not" || h == "and" {
                    return Err(ctx.unsupported(items[1].pos(), "negation of compound conditions"));
                }
            }
            out.push(Literal {
                atom: parse_atom(ctx, &items[1])?,
                positive: false,
            });
            Ok(())
        }
        _ => {
            out.push(Literal {
                atom: parse_atom(ctx, e)?,
                positive: true,
            });
            Ok(())
        }
    }
}

/// The add list, delete list and cost terms of an effect.
#[derive(Default)]
struct Effect {
    add: Vec<Atom>,
    del: Vec<Atom>,
    cost: Vec<CostTerm>,
}

/// Flatten an effect (`and` of atoms, negated atoms and `(increase (total-cost) X)`) into `out`.
fn parse_effect(ctx: &Ctx, e: &SExpr, out: &mut Effect) -> Result<(), PddlError> {
    let items = expect_list(ctx, e, "an effect")?;
    match items.first().and_then(atom_str) {
        None if items.is_empty() => Ok(()),
        Some("and") => {
            for c in &items[1..] {
                parse_effect(ctx, c, out)?;
            }
            Ok(())
        }
        Some("increase") => {
            out.cost.push(parse_cost(ctx, items, e.pos())?);
            Ok(())
        }
        Some("not") => {
            if items.len() != 2 {
                return Err(ctx.err(e.pos(), "`not` takes exactly one argument"));
            }
            out.del.push(parse_atom(ctx, &items[1])?);
            Ok(())
        }
        _ => {
            let a = parse_atom(ctx, e)?;
            if a.predicate == "=" {
                return Err(ctx.err(a.pos, "`=` cannot be an effect"));
            }
            out.add.push(a);
            Ok(())
        }
    }
}

fn parse_action(ctx: &Ctx, items: &[SExpr], pos: Pos) -> Result<ActionSchema, PddlError> {
    let name = expect_atom(
        ctx,
        items
            .get(1)
            .ok_or_else(|| ctx.err(pos, "action without a name"))?,
        "an action name",
    )?;
    let mut a = ActionSchema {
        name: name.to_string(),
        params: Vec::new(),
        precondition: Vec::new(),
        add: Vec::new(),
        del: Vec::new(),
        cost: Vec::new(),
        pos,
    };
    let mut i = 2;
    while i < items.len() {
        let key = expect_atom(
            ctx,
            &items[i],
            "an action keyword (`:parameters`, `:precondition`, `:effect`)",
        )?;
        let val = items
            .get(i + 1)
            .ok_or_else(|| ctx.err(items[i].pos(), format!("missing value after `{key}`")))?;
        match key {
            ":parameters" => {
                a.params = parse_typed_list(ctx, expect_list(ctx, val, "a parameter list")?, true)?
            }
            ":precondition" => parse_condition(ctx, val, &mut a.precondition)?,
            ":effect" => {
                let mut e = Effect::default();
                parse_effect(ctx, val, &mut e)?;
                (a.add, a.del, a.cost) = (e.add, e.del, e.cost);
            }
            ":vars" => return Err(ctx.unsupported(items[i].pos(), "`:vars`")),
            other => {
                return Err(ctx.err(items[i].pos(), format!("unknown action keyword `{other}`")))
            }
        }
        i += 2;
    }
    // Every variable must be a parameter.
    let check = |atom: &Atom| -> Result<(), PddlError> {
        for t in &atom.args {
            if let Term::Var(v) = t {
                if !a.params.iter().any(|p| &p.name == v) {
                    return Err(ctx.err(
                        atom.pos,
                        format!("variable `{v}` is not a parameter of action `{}`", a.name),
                    ));
                }
            }
        }
        Ok(())
    };
    for l in &a.precondition {
        check(&l.atom)?;
    }
    for at in a.add.iter().chain(&a.del) {
        check(at)?;
    }
    for t in &a.cost {
        if let CostTerm::Function(f) = t {
            check(f)?;
        }
    }
    Ok(a)
}

fn check_define<'a>(
    ctx: &Ctx,
    top: &'a SExpr,
    kind: &str,
) -> Result<(&'a [SExpr], String), PddlError> {
    let items = expect_list(ctx, top, "`(define ...)`")?;
    if items.first().and_then(atom_str) != Some("define") {
        return Err(ctx.err(top.pos(), "expected `(define ...)`"));
    }
    let head = items
        .get(1)
        .ok_or_else(|| ctx.err(top.pos(), format!("expected `({kind} NAME)`")))?;
    let h = expect_list(ctx, head, &format!("`({kind} NAME)`"))?;
    if h.len() != 2 || h.first().and_then(atom_str) != Some(kind) {
        return Err(ctx.err(head.pos(), format!("expected `({kind} NAME)`")));
    }
    Ok((&items[2..], expect_atom(ctx, &h[1], "a name")?.to_string()))
}

fn read_file(path: &Path) -> Result<String, PddlError> {
    std::fs::read_to_string(path).map_err(|e| PddlError {
        file: path.display().to_string(),
        line: 0,
        col: 0,
        message: format!("cannot read file: {e}"),
    })
}

/// Parse a domain from text; `file` names it in error messages.
pub fn parse_domain_str(text: &str, file: &str) -> Result<Domain, PddlError> {
    let ctx = Ctx { file };
    let top = read_sexpr(&ctx, text)?;
    let (sections, name) = check_define(&ctx, &top, "domain")?;
    let mut d = Domain {
        name,
        file: file.to_string(),
        requirements: vec![":strips".into()],
        types: Vec::new(),
        constants: Vec::new(),
        predicates: Vec::new(),
        actions: Vec::new(),
        functions: Vec::new(),
        free_constants: Vec::new(),
        notes: Vec::new(),
    };
    for sec in sections {
        let items = expect_list(&ctx, sec, "a domain section")?;
        let key = items
            .first()
            .map(|k| expect_atom(&ctx, k, "a section keyword"))
            .transpose()?
            .unwrap_or("");
        match key {
            ":requirements" => {
                d.requirements = parse_requirements(&ctx, &items[1..], &mut d.notes)?;
            }
            ":types" => {
                for t in parse_typed_list(&ctx, &items[1..], false)? {
                    d.types.push((t.name, t.ty));
                }
            }
            ":constants" => d.constants = parse_typed_list(&ctx, &items[1..], false)?,
            ":predicates" => {
                for p in &items[1..] {
                    let pl = expect_list(&ctx, p, "a predicate declaration")?;
                    let n = expect_atom(
                        &ctx,
                        pl.first()
                            .ok_or_else(|| ctx.err(p.pos(), "empty predicate"))?,
                        "a predicate name",
                    )?;
                    let decl = PredicateDecl {
                        name: n.to_string(),
                        params: parse_typed_list(&ctx, &pl[1..], true)?,
                        pos: p.pos(),
                    };
                    add_predicate(&ctx, &mut d.predicates, decl)?;
                }
            }
            ":action" => {
                let a = parse_action(&ctx, items, sec.pos())?;
                if let Some(b) = d.actions.iter().find(|b| b.name == a.name) {
                    return Err(ctx.err(
                        a.pos,
                        format!(
                            "action `{}` is defined twice (first at {}:{})",
                            a.name, b.pos.line, b.pos.col
                        ),
                    ));
                }
                d.actions.push(a)
            }
            ":functions" => {
                d.functions.extend(parse_functions(&ctx, &items[1..])?);
                if d.has_action_costs() {
                    let p = sec.pos();
                    d.notes.push(format!(
                        "{}:{}:{}: note: action costs are read and each plan's cost is \
                         reported (`; cost = N (general cost)`); astar-hmax and astar-lmcut \
                         minimise it, Graphplan's plans are shortest in parallel steps, bfs's in \
                         actions and gbfs-hff's are not optimal",
                        ctx.file, p.line, p.col
                    ));
                }
            }
            ":durative-action" => return Err(ctx.unsupported(sec.pos(), "durative actions")),
            ":derived" => return Err(ctx.unsupported(sec.pos(), "derived predicates")),
            ":constraints" => return Err(ctx.unsupported(sec.pos(), "constraints")),
            other => return Err(ctx.err(sec.pos(), format!("unknown domain section `{other}`"))),
        }
    }
    check_costs(&ctx, &d)?;
    d.free_constants = crate::check::check_domain(&ctx, &d)?;
    Ok(d)
}

/// Adds a predicate declaration; the same declaration twice is accepted, a different one is an
/// error at the second.
fn add_predicate(
    ctx: &Ctx,
    preds: &mut Vec<PredicateDecl>,
    decl: PredicateDecl,
) -> Result<(), PddlError> {
    let types = |p: &PredicateDecl| p.params.iter().map(|t| t.ty.clone()).collect::<Vec<_>>();
    match preds.iter().find(|p| p.name == decl.name) {
        None => preds.push(decl),
        Some(p) if types(p) == types(&decl) => {}
        Some(p) => {
            return Err(ctx.err(
                decl.pos,
                format!(
                    "predicate `{}` is declared again with other parameters (first at {}:{})",
                    decl.name, p.pos.line, p.pos.col
                ),
            ))
        }
    }
    Ok(())
}

/// Parse a problem from text; `file` names it in error messages.
pub fn parse_problem_str(text: &str, file: &str) -> Result<Problem, PddlError> {
    let ctx = Ctx { file };
    let top = read_sexpr(&ctx, text)?;
    let (sections, name) = check_define(&ctx, &top, "problem")?;
    let mut p = Problem {
        name,
        file: file.to_string(),
        domain: String::new(),
        domain_pos: Pos::default(),
        objects: Vec::new(),
        init: Vec::new(),
        init_pos: Vec::new(),
        function_values: Vec::new(),
        goal: Vec::new(),
        notes: Vec::new(),
    };
    let mut have_goal = false;
    for sec in sections {
        let items = expect_list(&ctx, sec, "a problem section")?;
        let key = items
            .first()
            .map(|k| expect_atom(&ctx, k, "a section keyword"))
            .transpose()?
            .unwrap_or("");
        match key {
            ":domain" => {
                let name = items
                    .get(1)
                    .ok_or_else(|| ctx.err(sec.pos(), "missing domain name"))?;
                p.domain = expect_atom(&ctx, name, "a domain name")?.to_string();
                p.domain_pos = name.pos();
            }
            ":requirements" => {
                parse_requirements(&ctx, &items[1..], &mut p.notes)?;
            }
            ":objects" => p
                .objects
                .extend(parse_typed_list(&ctx, &items[1..], false)?),
            ":init" => {
                for f in &items[1..] {
                    if let SExpr::List(l, pos) = f {
                        if l.first().and_then(atom_str) == Some("=") {
                            p.function_values.push(parse_function_value(&ctx, l, *pos)?);
                            continue;
                        }
                    }
                    let a = parse_atom(&ctx, f)?;
                    let mut args = Vec::new();
                    for t in a.args {
                        match t {
                            Term::Const(c) => args.push(c),
                            Term::Var(v) => {
                                return Err(ctx.err(a.pos, format!("variable `{v}` in `:init`")))
                            }
                        }
                    }
                    p.init.push(GroundAtom {
                        predicate: a.predicate,
                        args,
                    });
                    p.init_pos.push(a.pos);
                }
            }
            ":goal" => {
                let g = items
                    .get(1)
                    .ok_or_else(|| ctx.err(sec.pos(), "empty `:goal`"))?;
                parse_condition(&ctx, g, &mut p.goal)?;
                for l in &p.goal {
                    if l.atom.args.iter().any(|t| matches!(t, Term::Var(_))) {
                        return Err(ctx.err(l.atom.pos, "variable in `:goal`"));
                    }
                }
                have_goal = true;
            }
            ":metric" => {
                let minimises_cost = matches!(&items[1..], [SExpr::Atom(m, _), SExpr::List(f, _)]
                    if m == "minimize" && f.len() == 1 && atom_str(&f[0]) == Some(TOTAL_COST));
                if !minimises_cost {
                    return Err(ctx.unsupported(
                        sec.pos(),
                        "a `:metric` other than `(minimize (total-cost))`",
                    ));
                }
            }
            ":constraints" => return Err(ctx.unsupported(sec.pos(), "constraints")),
            other => return Err(ctx.err(sec.pos(), format!("unknown problem section `{other}`"))),
        }
    }
    if !have_goal {
        return Err(ctx.err(top.pos(), "problem has no `:goal`"));
    }
    Ok(p)
}

/// Parse a domain file.
pub fn parse_domain(path: impl AsRef<Path>) -> Result<Domain, PddlError> {
    let path = path.as_ref();
    parse_domain_str(&read_file(path)?, &path.display().to_string())
}

/// Parse a problem file.
pub fn parse_problem(path: impl AsRef<Path>) -> Result<Problem, PddlError> {
    let path = path.as_ref();
    parse_problem_str(&read_file(path)?, &path.display().to_string())
}

/// Is this file a domain (`(define (domain ...`)? Used by the suite runner.
pub fn is_domain_file(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .map(|t| {
            let toks = tokenize(&t);
            toks.len() > 3 && toks[3].0 == Tok::Sym("domain".into())
        })
        .unwrap_or(false)
}

/// How a suite folder's problems find their domain files, as [`suite_problems`] pairs them
/// (for messages).
pub const DOMAIN_FILES: &str = "one domain file (`(define (domain ...`) per folder, or one per \
                                problem named after it (`p01-domain.pddl`, `domain_p01.pddl`)";

/// The problems of a suite folder (its `.pddl` files that are not domains, sorted by name), each
/// with its domain file: the folder's only domain file or, where each problem has its own (the
/// IPC folders since 2008), the one named after it (`p01-domain.pddl`, `domain_p01.pddl` or
/// `domain-p01.pddl` for `p01.pddl` or `p01-airport1-p1.pddl`), else `domain.pddl`; `None`
/// where there is none.
pub fn suite_problems(dir: &Path) -> std::io::Result<Vec<(Option<PathBuf>, PathBuf)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("pddl"))
        })
        .collect();
    files.sort();
    let (domains, problems): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|f| is_domain_file(f));
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default()
    };
    // `p01-domain` -> `p01`; `domain` -> ``.
    let named_for = |d: &Path| {
        stem(d)
            .replacen("domain", "", 1)
            .trim_matches(['-', '_', '.'])
            .to_string()
    };
    let domain_of = |p: &Path| -> Option<PathBuf> {
        if let [only] = domains.as_slice() {
            return Some(only.clone());
        }
        // The domain named after the problem, or after the longest prefix of its name that
        // ends at a separator (`p01-domain.pddl` for `p01-airport1-p1.pddl`).
        let s = stem(p);
        let names = |d: &&PathBuf| {
            let n = named_for(d);
            let prefix = s.strip_prefix(n.as_str());
            let fits = prefix.is_some_and(|r| r.is_empty() || r.starts_with(['-', '_', '.']));
            (!n.is_empty() && fits).then_some(n.len())
        };
        let by_name = domains
            .iter()
            .filter_map(|d| Some((names(&d)?, d)))
            .max_by_key(|(n, _)| *n);
        by_name
            .map(|(_, d)| d)
            .or_else(|| domains.iter().find(|d| stem(d) == "domain"))
            .cloned()
    };
    Ok(problems.into_iter().map(|p| (domain_of(&p), p)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_feature_has_position() {
        let text = "(define (domain d)\n (:predicates (p ?x))\n (:action a :parameters (?x)\n  :precondition (p ?x)\n  :effect (forall (?y) (p ?y))))";
        let e = parse_domain_str(text, "d.pddl").unwrap_err();
        assert_eq!(
            e.to_string(),
            "d.pddl:5:11: unsupported feature quantifiers (`forall`)"
        );
    }

    #[test]
    fn unbalanced_parenthesis_is_an_error() {
        let e = parse_domain_str("(define (domain d)\n (:predicates (p)", "x.pddl").unwrap_err();
        assert_eq!((e.line, e.col), (2, 2)); // the innermost unclosed list
        assert!(e.message.contains("unclosed"));
        let e = parse_problem_str("(define (problem p)) )", "y.pddl").unwrap_err();
        assert_eq!((e.line, e.col), (1, 22));
    }
}
