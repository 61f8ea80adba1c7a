#!/usr/bin/env python3
"""Turns WORKDIR/raw.tsv and WORKDIR/meta.tsv of bench/db-bench.sh into Markdown tables (stdout).

raw.tsv rows (tab-separated):
  time   PHASE TOOL REP wall_s user_s sys_s peak_rss_kib
  value  PHASE KEY  REP VALUE
  fail   PHASE TOOL REP MESSAGE
Repetition 0 holds untimed preparation runs and is ignored.

Usage: db-report.py WORKDIR
"""
import sys
from collections import defaultdict

sys.dont_write_bytecode = True  # no bench/__pycache__ for benchlib
from benchlib import fmt, median, num, raw_rows, read_meta, workdir_arg

MiB = 1048576.0

# Restores that take two steps with sitevault: the parts summed per repetition.
TOTALS = {
    "restore-logical": ["sitevault restore", "pg_restore (sv dump)"],
    "restore-physical": ["sitevault restore", "tar -x"],
}
ORDER = [
    ("logical", ["pg_dump", "sitevault", "sitevault open"]),
    ("physical", ["pgbackrest", "sitevault"]),
    ("restore-logical", ["pg_restore", "sitevault restore", "pg_restore (sv dump)", "sitevault total"]),
    ("restore-physical", ["pgbackrest restore", "sitevault restore", "tar -x", "sitevault total"]),
    ("sqlite", ["sitevault"]),
]


def main():
    work = workdir_arg(__doc__)
    meta = read_meta(work)
    times = defaultdict(dict)  # (phase, tool) -> rep -> (wall, cpu, rss_kib)
    values = defaultdict(dict)  # (phase, key) -> rep -> str
    fails = []
    for p in raw_rows(work):
        if p[0] == "fail":
            fails.append(p[1:])
            continue
        if len(p) < 5 or p[3] == "0":
            continue
        if p[0] == "time":
            times[(p[1], p[2])][p[3]] = (float(p[4]), float(p[5]) + float(p[6]), float(p[7]))
        elif p[0] == "value":
            values[(p[1], p[2])][p[3]] = p[4]
    for phase, parts in TOTALS.items():
        reps = set.intersection(*(set(times[(phase, t)]) for t in parts)) if all((phase, t) in times for t in parts) else set()
        for r in reps:
            rows = [times[(phase, t)][r] for t in parts]
            times[(phase, "sitevault total")][r] = (sum(x[0] for x in rows), sum(x[1] for x in rows), max(x[2] for x in rows))

    def mwall(phase, tool):
        return median([v[0] for v in times.get((phase, tool), {}).values()])

    def mval(phase, key):
        return median([x for x in (num(v) for v in values.get((phase, key), {}).values()) if x is not None])

    db = num(meta.get("db_bytes"))
    cluster = num(meta.get("cluster_bytes"))
    out = []
    w = out.append
    w("# sitevault database benchmark")
    w("")
    w(f"- scale {meta.get('scale')} (pgbench) + {meta.get('random_mb')} MiB random bytea; "
      f"database `bench` {fmt(db / MiB if db else None, 0)} MiB, cluster {fmt(cluster / MiB if cluster else None, 0)} MiB"
      f"; repetitions: {meta.get('repeat')} (medians); phases: {meta.get('phases')}")
    w(f"- sitevault {meta.get('sitevault')}; {meta.get('pg_dump', '')}; PostgreSQL {meta.get('pg_version', '?')}; "
      f"{meta.get('pgbackrest', 'pgbackrest not used')}")
    w(f"- SQLite: {meta.get('sqlite_mb')} MiB WAL database, writer {meta.get('sqlite_rate')} commits/s, "
      f"synchronous={meta.get('sqlite_sync')}")
    w(f"- machine: {meta.get('nproc')} CPUs ({meta.get('cpu')}), {meta.get('kernel')}; load {meta.get('loadavg_start')} → "
      f"{meta.get('loadavg_end')}; {meta.get('page_cache')}; {meta.get('started')} → {meta.get('finished')}")
    w("")
    w("## Every tool (median wall, user+sys CPU and peak RSS over the repetitions)")
    w("")
    w("| phase | tool | wall s | CPU s | peak RSS MiB | runs | notes |")
    w("|---|---|---:|---:|---:|---:|---|")
    for phase, tools in ORDER:
        for tool in tools:
            t = times.get((phase, tool))
            if not t:
                continue
            wall, cpu, rss = median([v[0] for v in t.values()]), median([v[1] for v in t.values()]), median([v[2] for v in t.values()])
            notes = []
            if phase == "logical" and tool in ("pg_dump", "sitevault") and db:
                notes.append(f"{db / MiB / wall:.1f} MiB/s of database" if wall else "")
            if phase == "logical" and tool == "pg_dump" and mval("logical", "pg_dump.bytes"):
                notes.append(f"dump {mval('logical', 'pg_dump.bytes') / MiB:.1f} MiB")
            if phase == "logical" and tool == "sitevault":
                if mval("logical", "sitevault.repo_bytes"):
                    notes.append(f"repository {mval('logical', 'sitevault.repo_bytes') / MiB:.1f} MiB")
                chk = sorted(set(values.get(("logical", "sitevault.check"), {}).values()))
                notes += chk
            if phase == "logical" and tool == "sitevault open":
                notes.append("`sitevault snapshots`: fixed cost of opening the repository (included in each run)")
            if phase == "physical" and cluster and wall:
                notes.append(f"{cluster / MiB / wall:.1f} MiB/s of cluster")
            if phase == "physical" and mval("physical", f"{tool}.repo_bytes"):
                notes.append(f"backup {mval('physical', tool + '.repo_bytes') / MiB:.1f} MiB in the repository")
            if phase.startswith("restore") and tool == "sitevault total":
                notes.append(" + ".join(TOTALS[phase]) + ", per repetition")
            if phase.startswith("restore") and tool in ("pg_restore", "pgbackrest restore", "sitevault total"):
                key = "sitevault" if tool == "sitevault total" else tool
                ver = sorted(set(values.get((phase, key + ".verified"), {}).values()))
                if ver:
                    notes.append("restored data checked: " + "/".join(ver))
                st = mval(phase, key + ".startup_s")
                if st is not None:
                    notes.append(f"server start {st:.1f} s (untimed)")
            if phase == "sqlite":
                if mval("sqlite", "sitevault.bytes"):
                    notes.append(f"copy {mval('sqlite', 'sitevault.bytes') / MiB:.0f} MiB")
                if mval("sqlite", "sitevault.repo_bytes"):
                    notes.append(f"repository {mval('sqlite', 'sitevault.repo_bytes') / MiB:.0f} MiB")
            w(f"| {phase} | {tool} | {fmt(wall)} | {fmt(cpu)} | {fmt(rss / 1024 if rss else None, 1)} | {len(t)} | "
              f"{'; '.join(n for n in notes if n)} |")
    w("")
    w("## Summary")
    w("")
    w("| measure | baseline | sitevault | ratio | bar | met |")
    w("|---|---:|---:|---:|---|---|")

    def yes(ok):
        return "–" if ok is None else ("**yes**" if ok else "**NO**")

    pd, sv = mwall("logical", "pg_dump"), mwall("logical", "sitevault")
    if pd and sv and db:
        r = pd / sv
        w(f"| logical backup throughput (database MiB / wall s) | pg_dump -Fc {db / MiB / pd:.1f} MiB/s | "
          f"{db / MiB / sv:.1f} MiB/s | {r:.2f}× | sitevault ≥ 0.9× pg_dump | {yes(r >= 0.9)} |")
    pb, sv = mwall("physical", "pgbackrest"), mwall("physical", "sitevault")
    if pb and sv:
        r = pb / sv
        w(f"| physical backup wall | pgbackrest full {pb:.2f} s | {sv:.2f} s | {r:.2f}× | pgbackrest / sitevault ≥ 1.6 | {yes(r >= 1.6)} |")
    for phase, base, label in (("restore-logical", "pg_restore", "logical restore wall (to a restored database)"),
                               ("restore-physical", "pgbackrest restore", "physical restore wall (to a startable data folder)")):
        b, s = mwall(phase, base), mwall(phase, "sitevault total")
        if b and s:
            parts = " + ".join(f"{mwall(phase, p):.2f}" for p in TOTALS[phase] if mwall(phase, p) is not None)
            w(f"| {label} | {base} {b:.2f} s | {s:.2f} s ({parts}) | {b / s:.2f}× | (no bar; baseline / sitevault) | – |")
    mx = [num(v) for v in values.get(("sqlite", "during.max_ms"), {}).values()]
    mx = [x for x in mx if x is not None]
    if mx:
        p99 = [x for x in (num(v) for v in values.get(("sqlite", "during.p99_ms"), {}).values()) if x is not None]
        bmax = [x for x in (num(v) for v in values.get(("sqlite", "before.max_ms"), {}).values()) if x is not None]
        bp99 = [x for x in (num(v) for v in values.get(("sqlite", "before.p99_ms"), {}).values()) if x is not None]
        over = sum(int(num(v) or 0) for v in values.get(("sqlite", "during.over_50ms"), {}).values())
        w(f"| SQLite commit latency during the backup (worst max; worst p99) | before the backup: max {fmt(max(bmax) if bmax else None)} ms, "
          f"p99 {fmt(max(bp99) if bp99 else None)} ms | max {max(mx):.2f} ms; p99 {fmt(max(p99) if p99 else None)} ms; "
          f"{over} commits > 50 ms | – | never blocked > 50 ms | {yes(max(mx) <= 50.0)} |")
        sw = mwall("sqlite", "sitevault")
        integ = sorted(set(values.get(("sqlite", "integrity"), {}).values()))
        w(f"| SQLite backup wall; integrity (manifest) | – | {fmt(sw)} s; {', '.join(integ) or '?'} | – | integrity ok | "
          f"{yes(integ == ['ok'])} |")
    if fails:
        w("")
        w("## Failures")
        w("")
        for phase, tool, rep, msg in fails:
            w(f"- {phase} / {tool} (repetition {rep}): {msg}")
    if meta.get("failed"):
        w("")
        w(f"Failed phases: {meta['failed']}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
