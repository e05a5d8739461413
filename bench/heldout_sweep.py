#!/usr/bin/env python3
"""Try `superpose plan solve` on held-out IPC domains, as a new user would: the first problem(s)
of every folder of a checkout of github.com/AI-Planning/classical-domains (`classical/`), each
under a CPU limit, every plan checked with `superpose plan validate`; one CSV row per run with the
exit code, the validation, whether it panicked and the last line of stderr.

    cargo build --release
    python3 bench/heldout_sweep.py /path/to/classical-domains/classical --algo graphplan-sat \
        --first 1 --cpu-time 10 --jobs 2 --csv heldout.csv
    python3 bench/heldout_sweep.py --summarise heldout.csv

Domain and problem files are paired as `superpose plan bench` pairs them (see `pairs`).
Exit codes are the binary's: 0 solved, 1 unsolvable, 2 refused (bad or unsupported input), 3 limit.
"""
import argparse, collections, concurrent.futures as cf, csv, os, re, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_suite import run_limited  # noqa: E402

COLUMNS = ["domain", "domain_file", "problem", "rc", "valid", "panic", "cpu_s", "last_stderr"]


def kind(path: Path):
    head = path.read_text(errors="replace")[:4000].lower()
    if re.search(r"\(\s*define\s*\(\s*domain", head):
        return "domain"
    if re.search(r"\(\s*define\s*\(\s*problem", head):
        return "problem"
    return None


def pairs(folder: Path, first: int):
    """The first problems of `folder` with their domain files, paired as `superpose plan bench`
    pairs them (`superpose_plan::pddl::suite_problems`): the only domain file, else the one named
    after the problem or after the longest prefix of its name that ends at a separator
    (`p01-domain.pddl` for `p01.pddl` and `p01-airport1-p1.pddl`), else `domain.pddl`."""
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() == ".pddl")
    kinds = {f: kind(f) for f in files}
    domains = [f for f in files if kinds[f] == "domain"]

    def named_for(d):
        return d.stem.lower().replace("domain", "", 1).strip("-_.")

    def domain_of(p):
        if len(domains) == 1:
            return domains[0]
        stem = p.stem.lower()
        fits = [(len(named_for(d)), d) for d in domains if named_for(d) and stem.startswith(named_for(d))
                and (len(stem) == len(named_for(d)) or stem[len(named_for(d))] in "-_.")]
        if fits:
            return max(fits, key=lambda x: x[0])[1]
        return next((d for d in domains if d.stem.lower() == "domain"), None)

    out = []
    for p in [f for f in files if kinds[f] == "problem"][:first]:
        d = domain_of(p)
        if d:
            out.append((d, p))
    return out


def run(binary, algo, cpu, dom, prob, tmp):
    plan = Path(tmp) / (prob.parent.name + "_" + prob.stem + ".plan")
    rc, _, stderr, cpu_s = run_limited(
        [binary, "plan", "solve", str(dom), str(prob), "--algo", algo,
         "--time-limit", str(cpu), "--out", str(plan)], cpu + 2, None)
    valid = ""
    if rc == 0:
        rc_v, out_v, err_v, _ = run_limited([binary, "plan", "validate", str(dom), str(prob),
                                             str(plan)], 60, None)
        valid = "valid" if rc_v == 0 else "INVALID " + (out_v + err_v).strip()[-200:]
    lines = stderr.strip().splitlines()
    return [prob.parent.name, dom.name, prob.name, rc, valid, "panicked" in stderr,
            f"{cpu_s:.3f}", lines[-1][:300] if lines else ""]


def summarise(path):
    rows = list(csv.DictReader(open(path)))
    outcome = collections.Counter()
    refused = collections.Counter()
    for r in rows:
        rc = int(r["rc"])
        outcome[{0: "solved", 1: "unsolvable", 2: "refused", 3: "limit"}.get(rc, f"signal {rc}")] += 1
        if rc == 2:
            m = re.search(r"unsupported feature ([^(`]+)", r["last_stderr"]) or \
                re.search(r"\.pddl:\d+:\d+: (.*)", r["last_stderr"])
            refused[m.group(1).strip() if m else r["last_stderr"][-80:]] += 1
    print(f"{len(rows)} runs: " + ", ".join(f"{v} {k}" for k, v in outcome.most_common()))
    print("refused: " + "; ".join(f"{v} {k}" for k, v in refused.most_common()))
    bad = [r for r in rows if r["panic"] == "True" or r["valid"].startswith("INVALID")]
    print(f"panics or invalid plans: {len(bad)}")
    for r in bad:
        print("  ", r["domain"], r["problem"], r["valid"], r["last_stderr"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?", type=Path, help="classical-domains' `classical` folder")
    ap.add_argument("--algo", default="graphplan-sat")
    ap.add_argument("--first", type=int, default=1, help="problems per folder")
    ap.add_argument("--cpu-time", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--binary", default="target/release/superpose")
    ap.add_argument("--csv", type=Path)
    ap.add_argument("--summarise", type=Path, metavar="CSV")
    a = ap.parse_args()
    if a.summarise:
        return summarise(a.summarise)
    if not (a.root and a.csv):
        ap.error("give ROOT and --csv (or --summarise CSV)")
    todo = [pq for d in sorted(a.root.iterdir()) if d.is_dir() for pq in pairs(d, a.first)]
    print(f"{len(todo)} runs", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp, open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            futs = [ex.submit(run, a.binary, a.algo, a.cpu_time, d, p, tmp) for d, p in todo]
            for fut in futs:
                w.writerow(fut.result())
                f.flush()
    summarise(a.csv)


if __name__ == "__main__":
    main()
