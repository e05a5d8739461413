//! S-expressions for the PDDL front end: a tolerant tokenizer with `line:col` positions and an
//! iterative reader whose nesting depth is bounded by [`MAX_DEPTH`] (so a 100k-deep
//! `(and (and ...))` is a clear error instead of a stack overflow in the recursive passes that
//! follow, or in dropping the tree).
//!
//! Tolerance follows Fast Downward's `lisp_parser.py`: tokens are lower-cased, `;` starts a
//! comment, `(`/`)` need no surrounding space and `?` always starts a new token
//! (`(aircraft?a)` in zenotravel).

use std::fmt;

/// A PDDL error with its source position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PddlError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for PddlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// Position of a token in its source file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// An S-expression node.
#[derive(Debug, Clone)]
pub enum SExpr {
    Atom(String, Pos),
    List(Vec<SExpr>, Pos),
}

impl SExpr {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            SExpr::Atom(_, p) | SExpr::List(_, p) => *p,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Open,
    Close,
    Sym(String),
}

/// Split source text into tokens with their positions (case-insensitive: lower-cased).
pub(crate) fn tokenize(text: &str) -> Vec<(Tok, Pos)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut col = 0;
    let mut cur = String::new();
    let mut cur_pos = Pos::default();
    let mut in_comment = false;
    let flush = |cur: &mut String, cur_pos: Pos, out: &mut Vec<(Tok, Pos)>| {
        if !cur.is_empty() {
            out.push((Tok::Sym(cur.to_lowercase()), cur_pos));
            cur.clear();
        }
    };
    for ch in text.chars() {
        if ch == '\n' {
            flush(&mut cur, cur_pos, &mut out);
            in_comment = false;
            line += 1;
            col = 0;
            continue;
        }
        col += 1;
        if in_comment {
            continue;
        }
        let pos = Pos { line, col };
        match ch {
            ';' => {
                flush(&mut cur, cur_pos, &mut out);
                in_comment = true;
            }
            '(' => {
                flush(&mut cur, cur_pos, &mut out);
                out.push((Tok::Open, pos));
            }
            ')' => {
                flush(&mut cur, cur_pos, &mut out);
                out.push((Tok::Close, pos));
            }
            c if c.is_whitespace() => flush(&mut cur, cur_pos, &mut out),
            '?' => {
                flush(&mut cur, cur_pos, &mut out);
                cur.push('?');
                cur_pos = pos;
            }
            c => {
                if cur.is_empty() {
                    cur_pos = pos;
                }
                cur.push(c);
            }
        }
    }
    flush(&mut cur, cur_pos, &mut out);
    out
}

pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a str,
}

impl Ctx<'_> {
    pub(crate) fn err(&self, pos: Pos, message: impl Into<String>) -> PddlError {
        PddlError {
            file: self.file.to_string(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }
    pub(crate) fn unsupported(&self, pos: Pos, what: &str) -> PddlError {
        self.err(pos, format!("unsupported feature {what}"))
    }
}

/// The deepest nesting of parentheses accepted (IPC files stay below 20).
pub const MAX_DEPTH: usize = 1000;

/// Parse the whole text into one top-level S-expression.
pub(crate) fn read_sexpr(ctx: &Ctx, text: &str) -> Result<SExpr, PddlError> {
    let toks = tokenize(text);
    let mut stack: Vec<(Vec<SExpr>, Pos)> = Vec::new();
    let mut top: Option<SExpr> = None;
    for (tok, pos) in toks {
        if top.is_some() {
            return Err(ctx.err(
                pos,
                "unexpected text after the closing parenthesis of `define`",
            ));
        }
        match tok {
            Tok::Open => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ctx.err(pos, format!("nesting deeper than {MAX_DEPTH}")));
                }
                stack.push((Vec::new(), pos))
            }
            Tok::Close => {
                let (items, p) = stack.pop().ok_or_else(|| ctx.err(pos, "unmatched `)`"))?;
                let e = SExpr::List(items, p);
                match stack.last_mut() {
                    Some((parent, _)) => parent.push(e),
                    None => top = Some(e),
                }
            }
            Tok::Sym(s) => match stack.last_mut() {
                Some((parent, _)) => parent.push(SExpr::Atom(s, pos)),
                None => return Err(ctx.err(pos, format!("expected `(`, found `{s}`"))),
            },
        }
    }
    if let Some((_, p)) = stack.last() {
        return Err(ctx.err(*p, "unclosed `(` (missing `)` before end of file)"));
    }
    top.ok_or_else(|| {
        ctx.err(
            Pos { line: 1, col: 1 },
            "empty file: expected `(define ...)`",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_handles_quirks() {
        let t = tokenize("(Aircraft?a)(b ?c );x\r\n(D)");
        let syms: Vec<_> = t
            .iter()
            .map(|(t, _)| match t {
                Tok::Open => "(".to_string(),
                Tok::Close => ")".to_string(),
                Tok::Sym(s) => s.clone(),
            })
            .collect();
        assert_eq!(
            syms,
            ["(", "aircraft", "?a", ")", "(", "b", "?c", ")", "(", "d", ")"]
        );
        assert_eq!(t[9].1, Pos { line: 2, col: 2 });
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        let ctx = Ctx { file: "deep.pddl" };
        let ok = format!("{}{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(read_sexpr(&ctx, &ok).is_ok());
        let deep = format!("{}{}", "(and ".repeat(100_000), ")".repeat(100_000));
        let e = read_sexpr(&ctx, &deep).unwrap_err();
        assert_eq!(e.to_string(), "deep.pddl:1:5001: nesting deeper than 1000");
    }
}
