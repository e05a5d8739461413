#!/usr/bin/env python3
"""Run pyperplan (pip install pyperplan) over superpose's PDDL suite folders, one row per problem,
in the same CSV columns as `superpose plan bench`, so the two can be compared problem by problem.

    python3 bench/pyperplan_suite.py data/pddl/blocks data/pddl/gripper ... \
        --search gbf --heuristic hff --time-limit 30 --max-per-domain 5 --csv pyperplan.csv

Each problem runs in its own process (`python3 -m pyperplan`) under a wall-clock limit; a plan
counts as solved when pyperplan wrote a plan file. Times include parsing and grounding, as ours do.

With --cpu-time the limit and the reported time are the child's CPU seconds (RLIMIT_CPU, and
getrusage of the child) instead of wall-clock seconds, so that a run sharing the machine with
other work is not cut short by it; a wall-clock cap of ten times the limit still applies.
"""
import argparse, csv, os, resource, signal, subprocess, sys, tempfile, time
from pathlib import Path


def suite_files(folder: Path):
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".pddl")
    domains = [p for p in files if "domain" in p.name.lower()]
    problems = [p for p in files if p not in domains]
    return (domains[0] if domains else None), problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--search", default="gbf")
    ap.add_argument("--heuristic", default="hff")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--max-per-domain", type=int)
    ap.add_argument("--csv", required=True, type=Path)
    ap.add_argument("--cpu-time", action="store_true",
                    help="limit and report CPU seconds instead of wall-clock seconds")
    a = ap.parse_args()
    rows = []
    with open(a.csv, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["domain", "problem", "algo", "status", "plan_length", "time_s"])
        for d in a.dirs:
            dom, probs = suite_files(d)
            if a.max_per_domain:
                probs = probs[: a.max_per_domain]
            for p in probs:
                with tempfile.TemporaryDirectory() as tmp:
                    q = Path(tmp) / p.name
                    q.write_bytes(p.read_bytes())
                    cmd = [sys.executable, "-m", "pyperplan", "-s", a.search]
                    if a.search not in ("bfs", "ids", "sat"):
                        cmd += ["-H", a.heuristic]
                    cmd += [str(dom.resolve()), str(q)]
                    t0 = time.perf_counter()
                    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    limit = a.time_limit
                    pre = None
                    if a.cpu_time:
                        cpu = int(a.time_limit + 0.999)
                        pre = lambda: resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
                        limit = 10 * a.time_limit
                    try:
                        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                           timeout=limit, cwd=tmp, preexec_fn=pre)
                        if Path(str(q) + ".soln").exists():
                            status = "solved"
                        elif r.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
                            status = "limit"
                        else:
                            status = "failed"
                    except subprocess.TimeoutExpired:
                        status = "limit"
                    dt = time.perf_counter() - t0
                    if a.cpu_time:
                        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        dt = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
                    n = ""
                    soln = Path(str(q) + ".soln")
                    if soln.exists():
                        n = sum(1 for line in soln.read_text().splitlines() if line.strip().startswith("("))
                    algo = f"pyperplan-{a.search}" + ("" if a.search in ("bfs", "ids", "sat") else f"-{a.heuristic}")
                    row = [d.name, p.stem, algo, status, n, f"{dt:.3f}"]
                    w.writerow(row)
                    out.flush()
                    print(",".join(map(str, row)), flush=True)


if __name__ == "__main__":
    main()
