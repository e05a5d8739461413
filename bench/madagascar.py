#!/usr/bin/env python3
"""Run Rintanen's Madagascar (the SAT planner, in its step-optimal mode) beside our Graphplans
on a list of problems, one process at a time per job under the same CPU limit, and write one
CSV row per planner and problem (the columns of `superpose plan bench`; time_s = the child's CPU
seconds).

Madagascar is run as a step-optimal planner with Graphplan's parallelism: `-P 1` (A-step plans,
the actions of a step executable in any order), `-A 1 -S 1` (horizons 0, 1, 2, ... one after the
other, each solved to the end), so its first satisfiable horizon is the number of parallel steps
that Graphplan returns. Two builds of the same source: `M` (VSIDS) and `Mp` (Rintanen 2012's
planning heuristic, the default of the IPC entries). Its plan is checked with `superpose plan
validate`; the detail column sums the conflicts it reports over all horizons.

    git clone https://github.com/HenryKautz/Madagascar && cd Madagascar   # Rintanen's C sources
    cp y.tab.h parser.tab.h && touch y.tab.c y.tab.h lex.yy.c && chmod +x makedate
    # in Makefile: PARSER=y, PARSERC = y.tab.c, PARSERH = y.tab.h (no bison needed); then
    make && cp Mp Mp.bin     # VERSION = -DMPDOWNLOAD: the planning heuristic
    # VERSION = -DVSIDS, EXECUTABLE=M in Makefile, `rm *.o`, make: the VSIDS build
    cargo build --release -p superpose-plan --example bench_one && cargo build --release
    python3 bench/madagascar.py bench/results/graphplan-sat-vs-classic-retimed-session16.csv \
        --pddl data/pddl --min-classic 0.1 --mada M=Madagascar/M Mp=Madagascar/Mp.bin \
        --planners M Mp graphplan graphplan-sat --cpu-time 30 \
        --csv bench/results/madagascar-vs-graphplan.csv

The problem list is any CSV with `domain` and `problem` columns (`--min-classic S` keeps the rows
whose `graphplan_median_s` is over S, as in the paired re-timing; `--solved-by ALGO` the rows of a
results CSV where ALGO solved the problem, `--unsolved-by ALGO` those where it ran and did
not). Names in `--planners` that are not Madagascar builds run through `bench_one`
(`cpu_suite.run_one`). Rows are written as they finish. `--summarise RESULTS...` prints the
tables of docs/planning-sat.md from such CSVs:

    python3 bench/madagascar.py --summarise bench/results/madagascar-vs-graphplan.csv
"""
import argparse, collections, csv, math, os, re, shutil, signal, statistics, sys
import tempfile, threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from cpu_suite import COLUMNS, run_limited, run_one, suite_files, validate_plan  # noqa: E402

# Madagascar's own memory ceiling (-m, MB) is set this far under the address-space limit, so that
# it stops with its own message before the kernel refuses an allocation.
MEM_HEADROOM_MB = 512


def mada_row(a, name, binary, dom, prob):
    row = [prob.parent.name, prob.stem, f"madagascar-{name}", "", "", "", "", "", "", "", "", ""]
    with tempfile.TemporaryDirectory() as tmp:
        plan = os.path.join(tmp, "plan")
        args = [binary, "-P", "1", "-A", "1", "-S", "1", "-t", str(a.cpu_time),
                "-m", str(a.mem_mb - MEM_HEADROOM_MB), "-Q", "-o", plan, str(dom), str(prob)]
        # RLIMIT_CPU a little over -t: Madagascar's own timeout is the normal way out, but it is
        # checked between solver calls only; line buffering keeps the horizons reached when the
        # kernel's limit ends it instead.
        line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        rc, out, err, cpu_s = run_limited(line_buffered + args, a.cpu_time + 2, a.mem_mb)
        row[8] = f"{cpu_s:.3f}"
        per_horizon = re.findall(r"^\d+ (?:UN)?SAT \(\d+ decisions (\d+) conflicts\)", out, re.M)
        conflicts = sum(map(int, per_horizon))
        found = re.search(r"^PLAN FOUND: (\d+) steps", out, re.M)
        if found and os.path.exists(plan):
            actions = re.findall(r"\(([^()]*)\)", Path(plan).read_text())
            row[3], row[10] = validate_plan(a.superpose, dom, prob, actions, plan)
            row[4], row[5] = str(len(actions)), found.group(1)
            row[10] = row[10] or f"conflicts={conflicts}"
        elif "Timeout" in out or rc in (-signal.SIGXCPU, -signal.SIGKILL):
            horizon = re.findall(r"^Horizon (\d+):", out, re.M)
            row[3] = "limit"
            row[10] = (f"CPU time limit ({a.cpu_time} s) at horizon {horizon[-1]}; conflicts="
                       f"{conflicts} in the finished horizons" if horizon else
                       f"CPU time limit ({a.cpu_time} s) before the first horizon")
        else:
            last = [l for l in (out + err).splitlines() if l.strip()][-1:] or [f"exit {rc}"]
            row[3] = "limit" if "memory" in last[0].lower() else "error"
            row[10] = last[0]
    return row


def problems(list_csv, pddl, min_classic, solved_by, unsolved_by):
    for line, r in enumerate(csv.DictReader(open(list_csv)), start=2):
        if min_classic is not None and float(r["graphplan_median_s"]) <= min_classic:
            continue
        if solved_by and (r["algo"], r["status"]) != (solved_by, "solved"):
            continue
        if unsolved_by and (r["algo"] != unsolved_by or r["status"] == "solved"):
            continue
        folder = pddl / r["domain"]
        dom, probs = suite_files(folder) if folder.is_dir() else (None, [])
        prob = next((p for p in probs if p.stem == r["problem"]), None)
        if not dom or not prob:
            sys.exit(f"{list_csv}:{line}: no domain file and problem {r['problem']} in {folder}")
        yield dom, prob


def summarise(paths):
    """Per domain: solved by each planner and faster than classic Graphplan (unsolved or not run =
    slower); then step agreement, CPU totals and how graphplan-sat fares against the faster
    Madagascar build. Several CSVs are merged by (domain, problem, algo), a later row winning."""
    by = collections.defaultdict(dict)
    for path in paths:
        for r in csv.DictReader(open(path)):
            by[(r["domain"], r["problem"])][r["algo"]] = r
    algos = sorted({a for runs in by.values() for a in runs}, key=lambda a: (a != "graphplan", a))
    mada = [x for x in algos if x.startswith("madagascar-")]

    def t(k, x):
        r = by[k].get(x)
        return float(r["time_s"]) if r and r["status"] == "solved" else math.inf

    def best_mada(k):
        return min((t(k, x) for x in mada), default=math.inf)

    rivals = [x for x in algos if x != "graphplan"]
    print("| domain | problems | " + " | ".join(f"{x} solved" for x in algos) + " | "
          + " | ".join(f"{x} faster than classic" for x in rivals) + " |")
    print("|---|---|" + "---|" * (len(algos) + len(rivals)))
    for dom in sorted({k[0] for k in by}) + ["**total**"]:
        keys = [k for k in by if k[0] == dom or dom == "**total**"]
        solved = [sum(t(k, x) < math.inf for k in keys) for x in algos]
        faster = [sum(t(k, x) < t(k, "graphplan") for k in keys) for x in rivals]
        print(f"| {dom} | {len(keys)} | " + " | ".join(map(str, solved + faster)) + " |")
    # The reference step count: the first of our planners (classic, then the others) that solved.
    ours = [x for x in algos if x not in mada]
    ref = {k: next((by[k][x]["plan_steps"] for x in ours if t(k, x) < math.inf), None) for k in by}
    steps = [(k, x) for k in by for x in algos
             if t(k, x) < math.inf and ref[k] and by[k][x]["plan_steps"] != ref[k]]
    print(f"\nparallel steps different from ours: {steps or 'none'}")
    print("invalid or error rows:", [(k, x) for k in by for x, r in by[k].items()
                                     if r["status"] in ("invalid", "error")] or "none")
    classic_solved = [k for k in by if t(k, "graphplan") < math.inf]
    for x in algos:
        cpu = sum(float(by[k][x]["time_s"]) for k in by if x in by[k])
        line = f"{x}: {cpu:.1f} s of CPU over its {sum(x in by[k] for k in by)} rows (limits " \
               f"counted as their time)"
        if classic_solved:
            ratio = statistics.median(t(k, "graphplan") / t(k, x) for k in classic_solved)
            line += f", median classic/{x} {ratio:.3f} over the {len(classic_solved)} classic " \
                    "solves"
        print(line)
    if mada and "graphplan-sat" in algos:
        faster = sum(t(k, "graphplan-sat") < best_mada(k) for k in by)
        print(f"graphplan-sat faster than the faster Madagascar build on {faster} of {len(by)}; "
              f"the faster build faster than classic on "
              f"{sum(best_mada(k) < t(k, 'graphplan') for k in by)}")
        print("where graphplan-sat is slower than classic (CPU s, or the status):")
        for k in sorted(by):
            if t(k, "graphplan-sat") >= t(k, "graphplan"):
                print(f"  {k[0]} {k[1]}: " + ", ".join(
                    f"{x} {r['time_s'] if r['status'] == 'solved' else r['status']}"
                    for x, r in by[k].items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problems", type=Path, nargs="?", help="CSV with domain and problem columns")
    ap.add_argument("--summarise", type=Path, nargs="+", metavar="RESULTS",
                    help="print the tables of results CSVs (this script's, cpu_suite.py's) and "
                         "run nothing")
    ap.add_argument("--pddl", type=Path, default=Path("data/pddl"))
    ap.add_argument("--min-classic", type=float,
                    help="keep rows whose graphplan_median_s is over this many seconds")
    ap.add_argument("--solved-by", metavar="ALGO",
                    help="keep the rows of a results CSV where ALGO solved the problem")
    ap.add_argument("--unsolved-by", metavar="ALGO",
                    help="keep the rows of a results CSV where ALGO ran and did not solve it")
    ap.add_argument("--mada", nargs="+", default=[], metavar="NAME=PATH",
                    help="Madagascar builds, e.g. M=Madagascar/M Mp=Madagascar/Mp.bin")
    ap.add_argument("--planners", nargs="+", default=["M", "Mp", "graphplan", "graphplan-sat"])
    ap.add_argument("--cpu-time", type=int, default=30)
    ap.add_argument("--mem-mb", type=int, default=6144, help="address-space limit per problem")
    ap.add_argument("--jobs", type=int, default=1,
                    help="problems run at once (CPU time is per child)")
    ap.add_argument("--csv", type=Path, help="where the rows go (needed to run)")
    ap.add_argument("--bin", default="target/release/examples/bench_one")
    ap.add_argument("--superpose", default="target/release/superpose")
    a = ap.parse_args()
    if a.summarise:
        return summarise(a.summarise)
    if not a.problems or not a.csv:
        ap.error("a problem list and --csv are needed unless --summarise is given")
    builds = dict(m.split("=", 1) for m in a.mada)
    # The whole list first: a bad one fails before any run and before --csv is written.
    todo = list(problems(a.problems, a.pddl, a.min_classic, a.solved_by,
                         a.unsolved_by))
    lock = threading.Lock()
    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)

        def run_problem(dom, prob):  # the planners of one problem one after the other
            for planner in a.planners:
                row = (mada_row(a, planner, builds[planner], dom, prob) if planner in builds else
                       run_one(a.bin, dom, prob, planner, a.cpu_time, a.mem_mb))
                with lock:
                    w.writerow(row)
                    f.flush()
                    print(",".join(row), flush=True)

        with ThreadPoolExecutor(a.jobs) as pool:
            for done in [pool.submit(run_problem, d, p) for d, p in todo]:
                done.result()


if __name__ == "__main__":
    main()
