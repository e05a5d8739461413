#!/usr/bin/env python3
"""Run pyperplan (pip install pyperplan) over superpose's PDDL suite folders, one row per problem,
in the same CSV columns as `superpose plan bench`, so the two can be compared problem by problem.

    python3 bench/pyperplan_suite.py data/pddl/blocks data/pddl/gripper ... \
        --search gbf --heuristic hff --time-limit 30 --max-per-domain 5 --csv pyperplan.csv

Each problem runs in its own process (`python3 -m pyperplan`) under a wall-clock limit; a plan
counts as solved when pyperplan wrote a plan file. Times include parsing and grounding, as ours do.
"""
import argparse, csv, os, subprocess, sys, tempfile, time
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
                    try:
                        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       timeout=a.time_limit, cwd=tmp)
                        status = "solved" if Path(str(q) + ".soln").exists() else "failed"
                    except subprocess.TimeoutExpired:
                        status = "limit"
                    dt = time.perf_counter() - t0
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
