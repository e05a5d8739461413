#!/usr/bin/env python3
"""For each problem of a paired re-timing (`retime_pairs.py`'s CSV) where classic Graphplan's
median is over --min-time, count the states reachable within the plan's number of parallel steps
(`superpose plan solve --algo graphplan --exact`), next to who was faster: where is the
reachable state space small enough for Graphplan's memo of failed goal sets to tabulate it?

    python3 bench/state_space_survey.py bench/results/graphplan-sat-vs-classic-retimed-session16.csv \
        --pddl data/pddl --csv bench/results/graphplan-sat-state-space.csv

`states_within_plan_level` is empty when the enumeration passed --cap states or --timeout
seconds (the space is larger). Slow: the enumeration of a problem near the cap takes seconds;
`--resume` reuses the counts already in --csv (the timing columns are taken afresh).
"""
import argparse, csv, json, os, subprocess
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("retimed_csv", type=Path)
    ap.add_argument("--pddl", type=Path, required=True)
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--cap", type=int, default=1_000_000)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--min-time", type=float, default=0.1)
    ap.add_argument("--bin", default="target/release/superpose")
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    rows = [r for r in csv.DictReader(open(a.retimed_csv))
            if float(r["graphplan_median_s"]) > a.min_time]
    cached = {}
    if a.resume and a.csv.exists():
        cached = {(r["domain"], r["problem"]): (r["plan_level"], r["states_within_plan_level"])
                  for r in csv.DictReader(open(a.csv))}
    out_rows = []
    for r in rows:
        d, p = r["domain"], r["problem"]
        if (d, p) in cached:
            level, states = cached[(d, p)]
        else:
            level, states = count_states(a, d, p)
            print(d, p, r["faster"], level, states or f"> {a.cap} (or {a.timeout} s)", flush=True)
        out_rows.append([d, p, r["graphplan_median_s"], r["graphplan-sat_median_s"], r["faster"],
                         level, states])
    write(a.csv, out_rows)


def count_states(a, d, p):
    """The plan's level and the states reachable within it ("" past the cap or the timeout)."""
    try:
        o = subprocess.run([a.bin, "plan", "solve", str(a.pddl / d / "domain.pddl"),
                            str(a.pddl / d / f"{p}.pddl"), "--algo", "graphplan", "--exact",
                            "--exact-cap", str(a.cap), "--json"],
                           capture_output=True, text=True, timeout=a.timeout)
        j = json.loads(o.stdout)
        level = j["summary"]["plan_level"]
        states = j["levels"][level]["exact_states"] if level is not None else None
        return ("" if level is None else level), ("" if states is None else states)
    except (subprocess.TimeoutExpired, json.JSONDecodeError, KeyError, IndexError):
        return "", ""


def write(path, rows):
    """All rows at once, through a temporary file and a rename (an interrupted run leaves the
    previous file whole)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["domain", "problem", "graphplan_median_s", "graphplan-sat_median_s", "faster",
                    "plan_level", "states_within_plan_level"])
        w.writerows(rows)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
