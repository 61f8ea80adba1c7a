#!/usr/bin/env python3
"""Summarise a bench/run.sh work directory: print the table, write results.json.

Usage: report.py WORKDIR

WORKDIR is one profile's folder of a run.sh work directory (WORK/PROFILE).
Reads WORKDIR/raw.tsv (one line per timed run, written by run.sh),
WORKDIR/meta.tsv (key<TAB>value), WORKDIR/failures.tsv and, when run.sh was
given --limits, WORKDIR/limits.json (bench/limits.py); prints the median table
and writes WORKDIR/results.json. Can be re-run on an existing workdir.
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ for benchlib
from benchlib import median
from limits import summary as limits_summary

PHASES = [
    ("init", "init"),
    ("backup-first", "first backup"),
    ("open", "open repo (list snaps)"),
    ("backup-unchanged", "unchanged backup"),
    ("unchanged-minus-open", "unchanged minus open"),
    ("backup-churn", "backup after churn"),
    ("restore", "full restore"),
    ("check-read-data", "check --read-data"),
]
LIMITED = ["backup-first", "restore"]  # phases with a limit in limits.json
BASELINES = ["restic", "borg"]
SV = "sitevault"
MiB = 1 << 20
MIN_RATIO_WALL = 0.05  # seconds; /usr/bin/time reports 0.01 s resolution


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    work = argv[0]
    meta = {row[0]: (row[1] if len(row) > 1 else "") for row in read_tsv(os.path.join(work, "meta.tsv"))}
    tools = [t for t in meta.get("tools", "").split(",") if t]
    runs = {}    # tool -> phase -> [run dicts]
    sizes = {}   # tool -> [bytes]
    for row in read_tsv(os.path.join(work, "raw.tsv")):
        tool, rep, phase = row[0], int(row[1]), row[2]
        if phase == "repo-size":
            sizes.setdefault(tool, []).append(int(row[3]))
            continue
        wall, user, sys_, rss = float(row[3]), float(row[4]), float(row[5]), int(row[6])
        runs.setdefault(tool, {}).setdefault(phase, []).append(
            {"rep": rep, "wall_s": wall, "user_s": user, "sys_s": sys_, "cpu_s": round(user + sys_, 3),
             "max_rss_kib": rss})
        if tool not in tools:
            tools.append(tool)
    failures = [{"tool": r[0], "rep": int(r[1]), "phase": r[2], "message": r[3] if len(r) > 3 else ""}
                for r in read_tsv(os.path.join(work, "failures.tsv"))]
    limits = None
    if os.path.exists(os.path.join(work, "limits.json")):
        with open(os.path.join(work, "limits.json")) as f:
            limits = json.load(f)

    # Derived phase: unchanged backup minus the fixed cost of opening the repo,
    # computed per repetition, then the median is taken.
    for tool, ph in runs.items():
        opens = {r["rep"]: r for r in ph.get("open", [])}
        der = []
        for r in ph.get("backup-unchanged", []):
            o = opens.get(r["rep"])
            if o:
                der.append({"rep": r["rep"], "wall_s": round(r["wall_s"] - o["wall_s"], 3),
                            "cpu_s": round(r["cpu_s"] - o["cpu_s"], 3)})
        if der:
            ph["unchanged-minus-open"] = der

    results = {"meta": meta, "tools": {}, "ratios": {}, "failures": failures}
    if limits:
        results["limits"] = limits
        results["vs_limit"] = {}
    med = {}
    for tool in tools:
        tres = {"version": meta.get(f"version.{tool}", ""), "phases": {}}
        for phase, _ in PHASES:
            rs = runs.get(tool, {}).get(phase)
            if not rs:
                continue
            m = {"wall_s": median([r["wall_s"] for r in rs]), "cpu_s": median([r["cpu_s"] for r in rs])}
            if "max_rss_kib" in rs[0]:
                m["max_rss_mib"] = round(median([r["max_rss_kib"] for r in rs]) / 1024, 1)
            m = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()}
            med[(tool, phase)] = m
            tres["phases"][phase] = {"runs": rs, "median": m}
        if tool in sizes:
            tres["repo_size_bytes"] = {"runs": sizes[tool], "median": median(sizes[tool])}
            med[(tool, "repo-size")] = median(sizes[tool])
        results["tools"][tool] = tres

    def ratio(base, phase):
        a, b = med.get((base, phase)), med.get((SV, phase))
        if a is None or b is None:
            return None
        if phase == "repo-size":
            return round(a / b, 3) if b > 0 else None
        if min(a["wall_s"], b["wall_s"]) < MIN_RATIO_WALL:
            return None  # too close to the 0.01 s timer resolution to mean anything
        return round(a["wall_s"] / b["wall_s"], 3)

    for phase in [p for p, _ in PHASES] + ["repo-size"]:
        rr = {base: ratio(base, phase) for base in BASELINES}
        if any(v is not None for v in rr.values()):
            results["ratios"][phase] = rr

    def vs_limit(tool, phase):
        m = med.get((tool, phase))
        if not limits or m is None or phase not in limits["limits"]:
            return None
        lim = limits["limits"][phase]["limit_s"]
        return round(m["wall_s"] / lim, 3) if lim > 0 else None

    if limits:
        for tool in tools:
            vl = {phase: vs_limit(tool, phase) for phase in LIMITED if vs_limit(tool, phase) is not None}
            if vl:
                results["vs_limit"][tool] = vl

    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=False)
        f.write("\n")

    # ---- table -------------------------------------------------------------
    def fx(v):
        return "n/a" if v is None else f"{v:.2f}x"

    hdr = f"{'phase':<24} {'tool':<10} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>12}  {'vs restic':>9} {'vs borg':>8}"
    if limits:
        hdr += f" {'vs limit':>8}"
    print()
    ds = meta.get("dataset_bytes")
    dsf = meta.get("dataset_files")
    print(f"sitevault benchmark: profile {meta.get('profile', 'mixed')}, scale {meta.get('scale', '?')}"
          + (f", dataset {int(ds) / MiB:.1f} MiB in {dsf} files" if ds else "")
          + f", median of {meta.get('repeat', '?')} run(s)")
    print(f"host: {meta.get('nproc', '?')} CPUs, load avg at start {meta.get('loadavg_start', '?')}"
          + (f", at end {meta['loadavg_end']}" if meta.get("loadavg_end") else "")
          + "; page cache warm (not dropped)")
    print(hdr)
    print("-" * len(hdr))
    for phase, label in PHASES:
        any_row = False
        for tool in tools:
            m = med.get((tool, phase))
            if m is None:
                continue
            any_row = True
            rss = f"{m['max_rss_mib']:.1f}" if "max_rss_mib" in m else "-"
            r1 = r2 = r3 = ""
            if tool == SV:
                r1, r2 = fx(ratio("restic", phase)), fx(ratio("borg", phase))
            if limits and phase in LIMITED:
                r3 = fx(vs_limit(tool, phase))
            print(f"{label:<24} {tool:<10} {m['wall_s']:>8.2f} {m['cpu_s']:>8.2f} {rss:>12}  {r1:>9} {r2:>8} {r3:>8}"
                  .rstrip())
        lim = limits["limits"].get(phase) if limits and any_row else None
        if lim:
            print(f"{label:<24} {'(limit)':<10} {lim['limit_s']:>8.2f} {lim['cpu_total_s']:>8.2f}")
        if any_row and (len(tools) > 1 or lim):
            print()
    for tool in tools:
        s = med.get((tool, "repo-size"))
        if s is None:
            continue
        pct = f" ({100 * s / int(ds):.0f}% of data)" if ds and int(ds) > 0 else ""
        r1 = r2 = ""
        if tool == SV:
            r1, r2 = fx(ratio("restic", "repo-size")), fx(ratio("borg", "repo-size"))
        txt = f"{s / MiB:.1f} MiB{pct}"
        print(f"{'repo size after 1st bkp':<24} {tool:<10} {txt:>30}  {r1:>9} {r2:>8}".rstrip())
    print()
    print("vs X (sitevault rows): X wall / sitevault wall, >1 = sitevault faster; "
          "for repo size: X size / sitevault size, >1 = sitevault smaller.")
    print(f"n/a: a missing tool or a wall time below {MIN_RATIO_WALL} s (timer resolution 0.01 s).")
    print("cpu s = user + sys of the tool process and its children; peak RSS = max resident set size.")
    if limits:
        print("vs limit (every tool): wall / the limit bench/limits.py computed for this dataset on this machine, "
              "the (limit) rows (wall: the limit, cpu: the CPU work it counts); 1.00x = at the limit; the restore's "
              "limit is the unchurned dataset's, ~1-2 % less data:")
        for line in limits_summary(limits):
            print("  " + line)
    for t in meta.get("skipped", "").split(";"):
        if t:
            print(f"skipped: {t}")
    for fl in failures:
        print(f"FAILED: {fl['tool']} rep {fl['rep']} phase {fl['phase']}: {fl['message']}")
    print(f"results: {os.path.join(work, 'results.json')}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
