#!/usr/bin/env python3
"""Run the original CMU Graphplan (Blum & Furst's C code) and our classic Graphplan side by side,
one problem at a time under the same CPU limit, and write one CSV row per planner and problem
(the columns of `superpose plan bench`; time_s = the child's CPU seconds).

The C planner reads its own operator and fact files, not PDDL. This script translates each
STRIPS PDDL domain and problem (typing, constants, `(not (= ?x ?y))`) into them: types become type
declarations of the objects (every ancestor type too), and since the C planner binds distinct
variables to distinct objects, each action becomes one operator per way of merging its parameters
(see `bindings`). Names are replaced by numbered tokens, so nothing in a PDDL name can clash with
the C lexer. The C plan is translated back and checked with `superpose plan validate`.

    git clone https://github.com/juan-vg/cmu-graphplan   # CMU Graphplan, Avrim Blum's C sources
    # raise the node limits in source/graphplan.h: MAXMAXNODES 8192, NUMINTS 256, MAXGOALS 256
    # (MAX_NODES and MAX_GOALS below)
    make -C cmu-graphplan/source CC="gcc -O2"
    cargo build --release -p superpose-plan --example bench_one && cargo build --release
    python3 bench/cmu_graphplan.py data/pddl --first 6 --cmu cmu-graphplan/source/graphplan \
        --cpu-time 30 --csv bench/results/cmu-graphplan-vs-classic.csv

`--planners cmu graphplan-ebl ...` chooses what runs on each problem (default: `cmu graphplan`).
`--first N` takes the first N problems of every folder (natural order) and every problem of
`extra` (its README's table pairs problems with domains). Rows are written as they finish.
"""
import argparse, collections, csv, itertools, os, re, signal, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from cpu_suite import (COLUMNS, natural, run_limited, run_one, suite_files,  # noqa: E402
                       validate_plan)

# The node limits of the C build (source/graphplan.h; raised from 1024 and 50, see above).
MAX_NODES, MAX_GOALS = 8192, 256


class Unsupported(Exception):
    pass


# --- PDDL, just enough of it ---------------------------------------------------------------

def sexp(text):
    text = re.sub(r";[^\n]*", " ", text).lower()
    tokens = re.findall(r"\(|\)|\?[^\s()?]+|[^\s()?]+", text)  # `(aircraft?a)`: two tokens
    stack = [[]]
    for t in tokens:
        if t == "(":
            stack.append([])
        elif t == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(t)
    return stack[0][0]


def typed_list(items):
    """`a b - t c` -> [(a, t), (b, t), (c, object)]"""
    out, pending, i = [], [], 0
    while i < len(items):
        if items[i] == "-":
            t = items[i + 1]
            if isinstance(t, list):
                raise Unsupported("either types")
            out += [(p, t) for p in pending]
            pending, i = [], i + 2
        else:
            pending.append(items[i])
            i += 1
    return out + [(p, "object") for p in pending]


def section(form, key):
    return next((x[1:] for x in form if isinstance(x, list) and x and x[0] == key), [])


def conjuncts(f):
    if not f:
        return []
    return [g for h in f[1:] for g in conjuncts(h)] if f[0] == "and" else [f]


def parse_domain(path):
    d = sexp(Path(path).read_text())
    parents = dict(typed_list(section(d, ":types")))
    constants = typed_list(section(d, ":constants"))
    actions = []
    for x in d:
        if not (isinstance(x, list) and x and x[0] == ":action"):
            continue
        name, fields = x[1], dict(zip(x[2::2], x[3::2]))
        params = typed_list(fields.get(":parameters", []))
        pre, neq = [], []
        for c in conjuncts(fields.get(":precondition", [])):
            if c[0] == "not" and c[1][0] == "=":
                neq.append(tuple(c[1][1:]))
            elif c[0] in ("not", "=", "or", "imply", "exists", "forall"):
                raise Unsupported(f"precondition {c[0]}")
            else:
                pre.append(c)
        adds, dels = [], []
        for e in conjuncts(fields.get(":effect", [])):
            if e[0] == "not":
                dels.append(e[1])
            elif e[0] in ("when", "forall"):
                raise Unsupported(f"effect {e[0]}")
            else:
                adds.append(e)
        actions.append(dict(name=name, params=params, pre=pre, neq=neq, adds=adds, dels=dels))
    return parents, constants, actions


def parse_problem(path):
    p = sexp(Path(path).read_text())
    goal = section(p, ":goal")
    goals = conjuncts(goal[0] if goal else [])
    if any(g[0] in ("not", "or", "forall", "exists") for g in goals):
        raise Unsupported("goal that is not a conjunction of atoms")
    return typed_list(section(p, ":objects")), section(p, ":init"), goals


# --- the C planner's files -----------------------------------------------------------------

def bindings(act, typed, parents, static, init):
    """The C planner binds distinct variables to distinct objects; PDDL does not. So each action
    becomes one operator per way of merging its parameters (a set partition whose blocks share
    an object type and break no `(not (= ?x ?y))`), each merged block named by its first
    parameter and typed by its most specific type. Merges that make a static precondition
    unmatchable by the initial state (`(successor ?n ?n)`) are dropped. Yields the map from each
    parameter to its block's name and the operator's parameters with their types."""
    params, neq = act["params"], {frozenset(p) for p in act["neq"]}
    if any(not (x.startswith("?") and y.startswith("?")) for x, y in act["neq"]):
        raise Unsupported("inequality with a constant")

    def share(t, u):
        return any(t in ts and u in ts for ts in typed.values())

    def blocks(i, acc):
        if i == len(params):
            yield acc
            return
        x, t = params[i]
        yield from blocks(i + 1, acc + [[(x, t)]])
        for j, b in enumerate(acc):
            if all(share(t, u) and frozenset((x, y)) not in neq for y, u in b):
                yield from blocks(i + 1, acc[:j] + [b + [(x, t)]] + acc[j + 1:])

    def depth(t):
        return 0 if t == "object" or t not in parents else 1 + depth(parents[t])

    for part in blocks(0, []):
        merge, kinds = {}, {}
        for b in part:
            head = b[0][0]
            kinds[head] = max((t for _, t in b), key=depth)
            merge.update((x, head) for x, _ in b)
        if len(part) < len(params) and not all(
                matchable(c, merge, init) for c in act["pre"] if c[0] in static):
            continue
        yield merge, [(x, kinds[x]) for x, _ in params if merge[x] == x]


def matchable(atom, merge, init):
    """Some initial fact matches `atom` once its merged parameters must take equal values."""
    def fits(fact):
        pairs = list(zip(atom[1:], fact[1:]))
        return (len(fact) == len(atom)
                and all(x.startswith("?") or x == v for x, v in pairs)
                and all(merge.get(x, x) != merge.get(y, y) or v == w
                        for (x, v), (y, w) in itertools.combinations(pairs, 2)))
    return any(fits(f) for f in init if f[0] == atom[0])


def translate(domain, problem, ops_path, facts_path):
    """Write the operator and fact files; return the maps back to PDDL names."""
    parents, constants, actions = parse_domain(domain)
    objects, init, goals = parse_problem(problem)
    typed = {}
    for o, t in constants + objects:
        typed.setdefault(o, set())
        while t is not None and t not in typed[o]:
            typed[o].add(t)
            t = parents.get(t, "object" if t != "object" else None)
    names = {}  # (kind, PDDL name) -> token; numbered per kind in order of first use
    count = collections.Counter()

    def tok(kind, x):
        if (kind, x) not in names:
            names[kind, x] = f"{kind}{count[kind]}"
            count[kind] += 1
        return names[kind, x]

    def atom(a):
        args = [("<" + tok("v", x) + ">") if x.startswith("?") else tok("o", x) for x in a[1:]]
        return "(" + " ".join([tok("p", a[0])] + args) + ")"

    static = {a[0] for a in init} - {e[0] for act in actions for e in act["adds"] + act["dels"]}
    init = [tuple(f) for f in init]
    ops, variants = [], {}
    for act in actions:
        for merge, kept in bindings(act, typed, parents, static, init):
            sub = lambda a: [a[0]] + [merge.get(x, x) for x in a[1:]]  # noqa: E731
            pre = list(dict.fromkeys(tuple(sub(c)) for c in act["pre"]))
            adds = list(dict.fromkeys(tuple(sub(e)) for e in act["adds"]))
            dels = list(dict.fromkeys(tuple(sub(e)) for e in act["dels"]))
            # PDDL applies adds after deletes: an atom both deleted and added stays true. The C
            # planner refuses an action that adds one of its own preconditions (its old-style
            # format), and such an add changes nothing.
            dels = [e for e in dels if e not in adds]
            adds = [e for e in adds if e not in pre]
            if not adds and not dels:
                continue  # changes nothing (e.g. a move from x to x): no shortest plan needs it
            op = f"a{len(variants)}"
            variants[op] = (act["name"], [[x for x, _ in kept].index(merge[x])
                                          for x, _ in act["params"]])
            params = " ".join(f"(<{tok('v', x)}> {tok('t', t)})" for x, t in kept)
            effects = [atom(e) for e in adds] + ["(del " + atom(e)[1:] for e in dels]
            ops.append(f"(operator {op}\n (params {params})\n"
                       f" (preconds {' '.join(atom(c) for c in pre)})\n"
                       f" (effects {' '.join(effects)}))\n")
    facts = [f"({tok('o', o)} {tok('t', t)})" for o in typed for t in sorted(typed[o])]
    facts.append("(preconds " + " ".join(atom(f) for f in dict.fromkeys(init)) + ")")
    facts.append("(effects " + " ".join(atom(g) for g in goals) + ")")
    Path(ops_path).write_text("\n".join(ops))
    Path(facts_path).write_text("\n".join(facts) + "\n")
    objects = {v: k[1] for k, v in names.items() if k[0] == "o"}
    return variants, objects


def cmu_row(a, dom, prob):
    row = [prob.parent.name, prob.stem, "cmu-graphplan", "", "", "", "", "", "", "", "", ""]
    with tempfile.TemporaryDirectory() as tmp:
        ops, facts, plan = (os.path.join(tmp, n) for n in ("ops", "facts", "plan"))
        try:
            variants, objects = translate(dom, prob, ops, facts)
        except (Unsupported, IndexError, KeyError) as e:
            row[3], row[10] = "error", f"not translated: {e}"
            return row
        rc, out, err, cpu_s = run_limited(
            [a.cmu, "-o", ops, "-f", facts, "-d", "-M", str(MAX_NODES)], a.cpu_time, a.mem_mb)
        row[8] = f"{cpu_s:.3f}"
        steps = [(int(m.group(1)), m.group(2)) for m in
                 re.finditer(r"^(\d+) (a\d+(?:_o\d+)*)\s*$", out, re.M)]
        if rc in (-signal.SIGXCPU, -signal.SIGKILL):
            row[3], row[10] = "limit", f"CPU time limit ({a.cpu_time} s)"
        elif "increase MAXNODES" in err or "MAXGOALS too small" in err:
            row[3] = "limit"
            row[10] = f"node limit of the C build (MAXNODES {MAX_NODES}, MAXGOALS {MAX_GOALS})"
        elif not steps:
            last = [l for l in (out + err).splitlines() if l.strip()][-1:] or [f"exit {rc}"]
            unsolvable = "Problem not solvable" in out
            row[3] = "unsolvable" if unsolvable else "error"
            row[10] = "Problem not solvable (C's memo fixpoint)" if unsolvable else last[0]
        else:
            actions = []
            for _, s in steps:
                op, *args = s.split("_")
                name, order = variants[op]
                actions.append(" ".join([name] + [objects[args[i]] for i in order]))
            row[3], row[10] = validate_plan(a.superpose, dom, prob, actions, plan)
            row[4], row[5] = str(len(steps)), str(max(t for t, _ in steps))
    return row


def problems(root, first):
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if d.name == "extra":
            for m in re.finditer(r"^\| `([^`]+)` \| `([^`]+)`", (d / "README.md").read_text(),
                                 re.M):
                prob = d / m.group(1)
                dom = (d / m.group(2).split()[0]).resolve()
                out.append((dom, prob))
        else:
            dom, probs = suite_files(d)
            out += [(dom, p) for p in sorted(probs, key=natural)[:first]]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="folder of suite folders (data/pddl)")
    ap.add_argument("--first", type=int, default=6)
    ap.add_argument("--cmu", help="the CMU graphplan binary")
    ap.add_argument("--planners", nargs="+", default=["cmu", "graphplan"],
                    help="`cmu` and any of our --algo names, run in this order on each problem")
    ap.add_argument("--cpu-time", type=int, default=30)
    ap.add_argument("--mem-mb", type=int, default=6144)
    ap.add_argument("--bin", default="target/release/examples/bench_one")
    ap.add_argument("--superpose", default="target/release/superpose")
    ap.add_argument("--csv", required=True, type=Path)
    a = ap.parse_args()
    if "cmu" in a.planners and not a.cmu:
        ap.error("--cmu BINARY is needed to run `cmu`")
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for dom, prob in problems(a.root, a.first):
            for planner in a.planners:
                row = (cmu_row(a, dom, prob) if planner == "cmu" else
                       run_one(a.bin, dom, prob, planner, a.cpu_time, a.mem_mb))
                row[0] = prob.parent.name  # extra's sussman uses blocks' domain file
                w.writerow(row)
                f.flush()
                print(",".join(row), flush=True)


if __name__ == "__main__":
    main()
