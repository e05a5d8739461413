//! ProsQA files: Coconut's records and Zhu et al.'s symbolic records (+ `neighbor_k`).
//!
//! Record keys, in file order: `question, answer, steps, idx_to_symbol, edges, root, target,
//! neg_target` and, in the symbolic 3–4-hop form, `neighbor_k` (hop k as a string key → nodes).
//! Files are written exactly as Python's `json.dumps` writes them (`", "` and `": "`
//! separators, non-ASCII escaped), which is how the upstream files were produced, so reading
//! and writing a shared file reproduces it byte for byte.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::solve::{bfs, is_shortest_path};
use crate::{CoconutText, Digraph, ReachTask};

/// Errors reading or writing ProsQA files. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProsqaError {
    /// (The I/O error is in the message, not a `source`, so a report prints it once.)
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}:{column}: malformed JSON: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: expected a JSON array of records, found {found}")]
    NotArray { path: PathBuf, found: String },
    #[error("{path}: record {index}, field `{field}`: {message}")]
    Record {
        path: PathBuf,
        index: usize,
        field: String,
        message: String,
    },
}

/// One record of a Coconut / symbolic ProsQA file, fields in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct CoconutRecord {
    pub question: String,
    pub answer: String,
    pub steps: Vec<String>,
    pub idx_to_symbol: Vec<String>,
    pub edges: Vec<[usize; 2]>,
    pub root: usize,
    pub target: usize,
    pub neg_target: usize,
    /// Symbolic form only: (hop key as written, nodes in file order).
    pub neighbor_k: Option<Vec<(String, Vec<usize>)>>,
    /// Any other keys (kept, written after the known ones, in key order).
    pub extra: Vec<(String, Value)>,
}

const KNOWN_KEYS: [&str; 9] = [
    "question",
    "answer",
    "steps",
    "idx_to_symbol",
    "edges",
    "root",
    "target",
    "neg_target",
    "neighbor_k",
];

/// Reads a ProsQA file into records.
pub fn read_records(path: impl AsRef<Path>) -> Result<Vec<CoconutRecord>, ProsqaError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|error| ProsqaError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_records(&text, path)
}

/// Parses the text of a ProsQA file; `path` is only used in error messages.
pub fn parse_records(text: &str, path: &Path) -> Result<Vec<CoconutRecord>, ProsqaError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ProsqaError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: {
            // serde_json appends " at line L column C"; the error already leads with L:C.
            let m = e.to_string();
            match m.rfind(" at line ") {
                Some(i) => m[..i].to_string(),
                None => m,
            }
        },
    })?;
    let Value::Array(items) = value else {
        return Err(ProsqaError::NotArray {
            path: path.to_path_buf(),
            found: json_kind(&value).to_string(),
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            record_from_value(item).map_err(|(field, message)| ProsqaError::Record {
                path: path.to_path_buf(),
                index,
                field,
                message,
            })
        })
        .collect()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

type FieldError = (String, String);

fn ferr(field: &str, message: impl Into<String>) -> FieldError {
    (field.to_string(), message.into())
}

fn get<'a>(obj: &'a serde_json::Map<String, Value>, field: &str) -> Result<&'a Value, FieldError> {
    obj.get(field).ok_or_else(|| ferr(field, "missing"))
}

fn as_str(v: &Value, field: &str) -> Result<String, FieldError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| ferr(field, format!("expected a string, found {}", json_kind(v))))
}

fn as_index(v: &Value, field: &str) -> Result<usize, FieldError> {
    match v.as_u64() {
        Some(x) if v.is_u64() => usize::try_from(x).map_err(|_| ferr(field, "index too large")),
        _ => Err(ferr(
            field,
            format!("expected a non-negative integer, found {v}"),
        )),
    }
}

fn as_array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, FieldError> {
    v.as_array()
        .ok_or_else(|| ferr(field, format!("expected an array, found {}", json_kind(v))))
}

fn record_from_value(v: &Value) -> Result<CoconutRecord, FieldError> {
    let obj = v.as_object().ok_or_else(|| {
        ferr(
            "(record)",
            format!("expected an object, found {}", json_kind(v)),
        )
    })?;
    let question = as_str(get(obj, "question")?, "question")?;
    let answer = as_str(get(obj, "answer")?, "answer")?;
    let steps = as_array(get(obj, "steps")?, "steps")?
        .iter()
        .enumerate()
        .map(|(i, s)| as_str(s, &format!("steps[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let idx_to_symbol = as_array(get(obj, "idx_to_symbol")?, "idx_to_symbol")?
        .iter()
        .enumerate()
        .map(|(i, s)| as_str(s, &format!("idx_to_symbol[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let n = idx_to_symbol.len();
    let node = |v: &Value, field: &str| -> Result<usize, FieldError> {
        let x = as_index(v, field)?;
        if x >= n {
            return Err(ferr(
                field,
                format!("node {x} out of range (idx_to_symbol has {n} names)"),
            ));
        }
        Ok(x)
    };
    let mut edges = Vec::new();
    for (i, e) in as_array(get(obj, "edges")?, "edges")?.iter().enumerate() {
        let field = format!("edges[{i}]");
        let pair = as_array(e, &field)?;
        if pair.len() != 2 {
            return Err(ferr(
                &field,
                format!("expected [src, dst], found {} items", pair.len()),
            ));
        }
        edges.push([node(&pair[0], &field)?, node(&pair[1], &field)?]);
    }
    let root = node(get(obj, "root")?, "root")?;
    let target = node(get(obj, "target")?, "target")?;
    let neg_target = node(get(obj, "neg_target")?, "neg_target")?;
    let neighbor_k = match obj.get("neighbor_k") {
        None => None,
        Some(nk) => {
            let map = nk.as_object().ok_or_else(|| {
                ferr(
                    "neighbor_k",
                    format!("expected an object, found {}", json_kind(nk)),
                )
            })?;
            let mut layers = Vec::new();
            for (key, list) in map {
                let field = format!("neighbor_k.{key}");
                if key.parse::<usize>().is_err() {
                    return Err(ferr(&field, "hop key is not a non-negative integer"));
                }
                let nodes = as_array(list, &field)?
                    .iter()
                    .map(|x| node(x, &field))
                    .collect::<Result<Vec<_>, _>>()?;
                layers.push((key.clone(), nodes));
            }
            // serde_json's map is ordered by key string; restore numeric order ("10" after "9").
            layers.sort_by_key(|(k, _)| k.parse::<usize>().unwrap_or(usize::MAX));
            Some(layers)
        }
    };
    let extra = obj
        .iter()
        .filter(|(k, _)| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(CoconutRecord {
        question,
        answer,
        steps,
        idx_to_symbol,
        edges,
        root,
        target,
        neg_target,
        neighbor_k,
        extra,
    })
}

/// Writes `s` as a JSON string the way Python's `json.dumps` does (ASCII only).
fn push_py_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a JSON value with Python `json.dumps` separators.
fn push_py_value(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => push_py_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_py_value(out, x);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, x)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_py_str(out, k);
                out.push_str(": ");
                push_py_value(out, x);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn push_index_list(out: &mut String, xs: &[usize]) {
    out.push('[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{x}");
    }
    out.push(']');
}

fn push_str_list(out: &mut String, xs: &[String]) {
    out.push('[');
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_py_str(out, x);
    }
    out.push(']');
}

impl CoconutRecord {
    /// Appends this record as a JSON object (Python `json.dumps` layout).
    pub fn push_json(&self, out: &mut String) {
        out.push_str("{\"question\": ");
        push_py_str(out, &self.question);
        out.push_str(", \"answer\": ");
        push_py_str(out, &self.answer);
        out.push_str(", \"steps\": ");
        push_str_list(out, &self.steps);
        out.push_str(", \"idx_to_symbol\": ");
        push_str_list(out, &self.idx_to_symbol);
        out.push_str(", \"edges\": [");
        for (i, e) in self.edges.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_index_list(out, e);
        }
        let _ = write!(
            out,
            "], \"root\": {}, \"target\": {}, \"neg_target\": {}",
            self.root, self.target, self.neg_target
        );
        if let Some(nk) = &self.neighbor_k {
            out.push_str(", \"neighbor_k\": {");
            for (i, (k, nodes)) in nk.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_py_str(out, k);
                out.push_str(": ");
                push_index_list(out, nodes);
            }
            out.push('}');
        }
        for (k, v) in &self.extra {
            out.push_str(", ");
            push_py_str(out, k);
            out.push_str(": ");
            push_py_value(out, v);
        }
        out.push('}');
    }

    /// Converts to a task. The gold path is the one the `steps` spell out when they form a
    /// shortest root→target path, else a BFS shortest path, else empty (mislabelled record:
    /// target unreachable). `neighbor_k` is taken from the record when present.
    pub fn to_task(&self) -> Result<ReachTask, FieldError> {
        let n = self.idx_to_symbol.len();
        for (field, node) in [
            ("root", self.root),
            ("target", self.target),
            ("neg_target", self.neg_target),
        ] {
            if node >= n {
                return Err(ferr(
                    field,
                    format!("node {node} out of range (idx_to_symbol has {n} names)"),
                ));
            }
        }
        let mut graph = Digraph::from_edges(n, self.edges.iter().map(|e| (e[0], e[1])))
            .map_err(|e| ferr("edges", e.to_string()))?;
        graph
            .set_names(self.idx_to_symbol.clone())
            .map_err(|e| ferr("idx_to_symbol", e.to_string()))?;
        let gold_path = match steps_path(&self.steps, &self.idx_to_symbol) {
            Some(p) if is_shortest_path(&graph, self.root, self.target, &p) => p,
            _ => bfs(&graph, self.root)
                .path_to(self.target)
                .unwrap_or_default(),
        };
        let neighbor_k = self.neighbor_k.as_ref().map(|layers| {
            layers
                .iter()
                .map(|(_, nodes)| nodes.clone())
                .collect::<Vec<_>>()
        });
        if let Some(layers) = &self.neighbor_k {
            for (i, (k, _)) in layers.iter().enumerate() {
                if k != &i.to_string() {
                    return Err(ferr(
                        &format!("neighbor_k.{k}"),
                        format!("hop keys must be 0, 1, 2, ... (expected \"{i}\")"),
                    ));
                }
            }
        }
        let target_first = question_candidates(&self.question)
            .map(|(a, _)| a == self.idx_to_symbol[self.target])
            .unwrap_or(true);
        Ok(ReachTask {
            graph,
            root: self.root,
            target: self.target,
            distractor: self.neg_target,
            gold_path,
            neighbor_k,
            target_first,
            coconut: Some(CoconutText {
                question: self.question.clone(),
                answer: self.answer.clone(),
                steps: self.steps.clone(),
            }),
        })
    }

    /// The record of a task: names from the graph (or [`default_names`]), text from
    /// `task.coconut` (or rendered by [`coconut_text`] with a fixed seed), `neighbor_k` when
    /// the task has it.
    pub fn from_task(task: &ReachTask) -> CoconutRecord {
        let names: Vec<String> = match task.graph.names() {
            Some(n) => n.to_vec(),
            None => default_names(&task.graph, task.root),
        };
        let text = match &task.coconut {
            Some(t) => t.clone(),
            None => {
                let mut rng = ChaCha8Rng::seed_from_u64(0);
                coconut_text(task, &names, &mut rng)
            }
        };
        CoconutRecord {
            question: text.question,
            answer: text.answer,
            steps: text.steps,
            idx_to_symbol: names,
            edges: task.graph.edges().iter().map(|&(u, v)| [u, v]).collect(),
            root: task.root,
            target: task.target,
            neg_target: task.distractor,
            neighbor_k: task.neighbor_k.as_ref().map(|layers| {
                layers
                    .iter()
                    .enumerate()
                    .map(|(k, nodes)| (k.to_string(), nodes.clone()))
                    .collect()
            }),
            extra: Vec::new(),
        }
    }
}

/// The whole file text: `[rec, rec, ...]` in Python `json.dumps` layout (no trailing newline).
pub fn records_to_json(records: &[CoconutRecord]) -> String {
    let mut out = String::with_capacity(records.len() * 1800 + 2);
    out.push('[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        r.push_json(&mut out);
    }
    out.push(']');
    out
}

/// Writes records atomically (temp file, fsync, rename).
pub fn write_records(path: impl AsRef<Path>, records: &[CoconutRecord]) -> Result<(), ProsqaError> {
    write_atomic(path.as_ref(), records_to_json(records).as_bytes())
}

/// Writes `bytes` to `path` via a temporary file in the same folder, fsync and rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProsqaError> {
    superpose_fsutil::write_atomic(path, bytes).map_err(|error| ProsqaError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Reads a Coconut or symbolic ProsQA file as tasks.
pub fn read_tasks(path: impl AsRef<Path>) -> Result<Vec<ReachTask>, ProsqaError> {
    let path = path.as_ref();
    let records = read_records(path)?;
    records
        .iter()
        .enumerate()
        .map(|(index, r)| {
            r.to_task().map_err(|(field, message)| ProsqaError::Record {
                path: path.to_path_buf(),
                index,
                field,
                message,
            })
        })
        .collect()
}

/// Writes tasks as Coconut records (with `neighbor_k` where the task has it: the symbolic form).
pub fn write_tasks(path: impl AsRef<Path>, tasks: &[ReachTask]) -> Result<(), ProsqaError> {
    let records: Vec<CoconutRecord> = tasks.iter().map(CoconutRecord::from_task).collect();
    write_records(path, &records)
}

/// Parses one step sentence ("Tom is a terpus." / "Every terpus is a brimpus.").
fn step_names(step: &str) -> Option<(&str, &str)> {
    let s = step.strip_suffix('.')?;
    let s = s.strip_prefix("Every ").unwrap_or(s);
    s.split_once(" is a ")
}

/// The node path the `steps` describe (None if a name is unknown or steps don't chain).
pub fn steps_path(steps: &[String], names: &[String]) -> Option<Vec<usize>> {
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut path = Vec::with_capacity(steps.len() + 1);
    for step in steps {
        let (a, b) = step_names(step)?;
        let (a, b) = (*index.get(a)?, *index.get(b)?);
        match path.last() {
            None => path.push(a),
            Some(&last) if last == a => {}
            Some(_) => return None,
        }
        path.push(b);
    }
    Some(path)
}

/// The two candidate names of "... Is Tom a A or B?" in question order.
pub fn question_candidates(question: &str) -> Option<(&str, &str)> {
    let q = question.strip_suffix('?')?;
    let last = &q[q.rfind("Is ")? + 3..];
    let (_, cands) = last.split_once(" a ")?;
    cands.split_once(" or ")
}

/// Entity names used by ProsQA (ProntoQA's fictional people).
pub const PERSONS: [&str; 17] = [
    "Alex", "Bob", "Carol", "Davis", "Eva", "Fae", "Gabriel", "Jack", "Max", "Oliver", "Polly",
    "Rex", "Sally", "Sam", "Stella", "Tom", "Wren",
];

/// Concept names used by ProsQA (ProntoQA's "-pus" words).
pub const CONCEPTS: [&str; 38] = [
    "bompus", "boompus", "brimpus", "chorpus", "dumpus", "felpus", "fompus", "gerpus", "gorpus",
    "grimpus", "gwompus", "hilpus", "impus", "jelpus", "jompus", "kerpus", "lempus", "lorpus",
    "numpus", "quimpus", "rempus", "rompus", "rorpus", "scrompus", "shumpus", "sterpus", "storpus",
    "terpus", "timpus", "tumpus", "vumpus", "worpus", "wumpus", "yerpus", "yimpus", "yumpus",
    "zhorpus", "zumpus",
];

/// The i-th person name (beyond the list: "Alex2", ...).
pub fn person_name(i: usize) -> String {
    numbered(&PERSONS, i)
}

/// The i-th concept name (beyond the list: "bompus2", ...).
pub fn concept_name(i: usize) -> String {
    numbered(&CONCEPTS, i)
}

fn numbered(list: &[&str], i: usize) -> String {
    let base = list[i % list.len()];
    match i / list.len() {
        0 => base.to_string(),
        k => format!("{base}{}", k + 1),
    }
}

/// Deterministic names: persons for the root and parentless nodes, "-pus" concepts otherwise.
pub fn default_names(g: &Digraph, root: usize) -> Vec<String> {
    let indeg = g.in_degrees();
    let (mut p, mut c) = (0, 0);
    (0..g.n())
        .map(|u| {
            if u == root || indeg[u] == 0 {
                p += 1;
                person_name(p - 1)
            } else {
                c += 1;
                concept_name(c - 1)
            }
        })
        .collect()
}

/// Random distinct names: persons for the root and parentless nodes, concepts otherwise
/// (Coconut App. A.2: "persons for roots, -pus concepts for the rest").
pub fn random_names(g: &Digraph, root: usize, rng: &mut impl Rng) -> Vec<String> {
    let indeg = g.in_degrees();
    let is_person: Vec<bool> = (0..g.n()).map(|u| u == root || indeg[u] == 0).collect();
    let np = is_person.iter().filter(|&&b| b).count();
    let nc = g.n() - np;
    let mut persons = sample_indices(rng, PERSONS.len().max(np), np);
    let mut concepts = sample_indices(rng, CONCEPTS.len().max(nc), nc);
    (0..g.n())
        .map(|u| {
            if is_person[u] {
                person_name(persons.pop().expect("enough persons"))
            } else {
                concept_name(concepts.pop().expect("enough concepts"))
            }
        })
        .collect()
}

fn sample_indices(rng: &mut impl Rng, len: usize, amount: usize) -> Vec<usize> {
    rand::seq::index::sample(rng, len, amount).into_vec()
}

fn is_entity(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

/// "Tom is a terpus." for an entity tail, "Every terpus is a brimpus." otherwise.
pub fn fact_sentence(tail: &str, head: &str) -> String {
    if is_entity(tail) {
        format!("{tail} is a {head}.")
    } else {
        format!("Every {tail} is a {head}.")
    }
}

/// Coconut's text for a task: every edge as a fact in random order, then
/// "Is ROOT a A or B?" (candidate order from `task.target_first`); answer "ROOT is a TARGET.";
/// one step per edge of the gold path.
pub fn coconut_text(task: &ReachTask, names: &[String], rng: &mut impl Rng) -> CoconutText {
    let mut facts: Vec<String> = task
        .graph
        .edges()
        .iter()
        .map(|&(u, v)| fact_sentence(&names[u], &names[v]))
        .collect();
    facts.shuffle(rng);
    let [a, b] = task.candidates();
    let root = &names[task.root];
    let mut question = facts.join(" ");
    if !question.is_empty() {
        question.push(' ');
    }
    let _ = write!(question, "Is {root} a {} or {}?", names[a], names[b]);
    CoconutText {
        question,
        answer: format!("{root} is a {}.", names[task.target]),
        steps: task
            .gold_path
            .windows(2)
            .map(|w| fact_sentence(&names[w[0]], &names[w[1]]))
            .collect(),
    }
}
