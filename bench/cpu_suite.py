#!/usr/bin/env python3
"""Run superpose's planners over PDDL suite folders with a CPU-time limit per problem, one process
per problem, writing the CSV columns of `superpose plan bench` (time_s = the child's CPU seconds).

    cargo build -p superpose-plan --release --example bench_one
    nice -n 15 python3 bench/cpu_suite.py data/pddl/{blocks,depot,...,zenotravel} \
        --algo graphplan-sat --then graphplan --cpu-time 30 --jobs 2 --csv sat.csv

Like bench/pyperplan_suite.py --cpu-time: each problem runs under RLIMIT_CPU (a problem killed by
SIGXCPU is a `limit` row), so a run sharing the machine with other work is not cut short by it.
Problems are taken round-robin over the folders (the n-th problem of every folder before the
(n+1)-th of any), so a run stopped early has covered every domain's smaller problems.
`--solved-in CSV...` runs only the problems solved in earlier runs; `--unsolved-in CSV...` only
those that `--algo` was run on there and did not solve. `--then ALGO` also runs ALGO on each
problem `--algo` solved, as the next job after it (the classic planner on the problems SAT
solves: levels and times side by side, also in a run stopped early); `--reuse CSV...` takes those rows from an earlier run instead (the `--then` planner's
code unchanged between the runs).
"""
import argparse, csv, os, re, resource, signal, subprocess, tempfile, threading
from pathlib import Path

COLUMNS = ["domain", "problem", "algo", "status", "plan_length", "plan_steps", "facts",
           "actions", "time_s", "search_s", "detail", "plan_cost"]


def natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def suite_files(folder: Path):
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".pddl"), key=natural)
    domains = [p for p in files if "domain" in p.name.lower()]
    return (domains[0] if domains else None), [p for p in files if p not in domains]


def run_limited(args, cpu, mem_mb):
    """Run one child under RLIMIT_CPU (and RLIMIT_AS when mem_mb is set); return its exit code
    (negative: the signal), stdout, stderr and its own CPU seconds."""
    def limits():
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        if mem_mb:
            resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
    # wait4 gives this child's own CPU time (several workers run children at once).
    with tempfile.TemporaryFile(mode="w+") as err:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                             text=True, preexec_fn=limits)
        stdout = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), stdout, err.read(), ru.ru_utime + ru.ru_stime


def validate_plan(superpose, dom, prob, actions, path):
    """Write `actions` (each "name arg ...") as a plan file at `path` and check it with `superpose
    plan validate`; return ("solved", "") or ("invalid", the validator's last line)."""
    Path(path).write_text("".join(f"({a.strip()})\n" for a in actions))
    v = subprocess.run([superpose, "plan", "validate", str(dom), str(prob), str(path)],
                       capture_output=True, text=True)
    if v.returncode == 0:
        return "solved", ""
    return "invalid", (v.stdout + v.stderr).strip().splitlines()[-1]


def run_one(binary, dom, prob, algo, cpu, mem_mb):
    rc, stdout, stderr, cpu_s = run_limited(
        [binary, str(dom), str(prob), algo, str(20 * cpu)], cpu, mem_mb)
    lines = [l for l in stdout.splitlines() if l.strip()]
    if rc == 0 and lines:
        row = next(csv.reader([lines[-1]]))
        row[8] = f"{cpu_s:.3f}"
        return row
    status, detail = "error", (stderr.strip().splitlines() or [""])[-1]
    if rc in (-signal.SIGXCPU, -signal.SIGKILL):
        status, detail = "limit", f"CPU time limit ({cpu} s)"
    elif rc < 0 or "memory" in stderr:
        status, detail = "limit", f"killed ({rc}): {detail}"
    return [dom.parent.name, prob.stem, algo, status, "", "", "", "", f"{cpu_s:.3f}", "", detail, ""]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--algo", default="graphplan-sat")
    ap.add_argument("--then", help="also run this planner on the problems --algo solved")
    ap.add_argument("--cpu-time", type=int, default=30)
    ap.add_argument("--mem-mb", type=int, default=6144, help="address-space limit per problem")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--csv", required=True, type=Path)
    ap.add_argument("--bin", default="target/release/examples/bench_one")
    ap.add_argument("--solved-in", type=Path, nargs="*", default=[],
                    help="run only the problems solved in these CSV files")
    ap.add_argument("--unsolved-in", type=Path, nargs="*", default=[],
                    help="run only the problems that --algo was run on in these CSV files and "
                         "did not solve")
    ap.add_argument("--reuse", type=Path, nargs="*", default=[],
                    help="take --then rows from these CSV files where they have one (the same "
                         "planner on the same problem) instead of running it again")
    a = ap.parse_args()
    reuse = {(r["domain"], r["problem"], r["algo"]): [r.get(c) or "" for c in COLUMNS]
             for f in a.reuse for r in csv.DictReader(open(f))}
    suites = [(d, *suite_files(d)) for d in a.dirs]
    keep = None  # (domain, problem) pairs to run; None: all
    if a.solved_in:
        keep = {(r["domain"], r["problem"]) for f in a.solved_in for r in csv.DictReader(open(f))
                if r["status"] == "solved"}
    if a.unsolved_in:
        rows = [r for f in a.unsolved_in for r in csv.DictReader(open(f)) if r["algo"] == a.algo]
        solved = {(r["domain"], r["problem"]) for r in rows if r["status"] == "solved"}
        unsolved = {(r["domain"], r["problem"]) for r in rows} - solved
        keep = unsolved if keep is None else keep & unsolved
    if keep is not None:
        suites = [(d, dom, [p for p in ps if (d.name, p.stem) in keep]) for d, dom, ps in suites]
    order, n = [], 0
    while any(n < len(ps) for _, _, ps in suites):
        order += [(dom, ps[n], a.algo) for _, dom, ps in suites if dom and n < len(ps)]
        n += 1
    lock, jobs = threading.Lock(), list(order)
    later = []
    with open(a.csv, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(COLUMNS)

        def worker():
            while True:
                with lock:
                    if later:
                        dom, prob, algo = later.pop(0)
                    elif jobs:
                        dom, prob, algo = jobs.pop(0)
                    else:
                        return
                row = reuse.get((dom.parent.name, prob.stem, algo)) if algo != a.algo else None
                row = row or run_one(a.bin, dom, prob, algo, a.cpu_time, a.mem_mb)
                with lock:
                    w.writerow(row)
                    out.flush()
                    print(",".join(row), flush=True)
                    if a.then and algo == a.algo and row[3] == "solved":
                        later.append((dom, prob, a.then))

        threads = [threading.Thread(target=worker) for _ in range(a.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


if __name__ == "__main__":
    main()
