#!/usr/bin/env python3
"""Turns WORKDIR/raw.tsv and WORKDIR/meta.tsv of bench/drill-bench.sh into Markdown (stdout) and
WORKDIR/results.json.

raw.tsv rows (tab-separated):
  time   PHASE REP wall_s user_s sys_s peak_rss_kib server_cpu_s
  value  PHASE KEY REP VALUE
  fail   PHASE REP MESSAGE
PHASE is backup / drill (the whole site) or solo-files.backup, solo-pg.drill, ... (--solo).

Usage: drill-report.py WORKDIR
"""
import json
import sys
from collections import defaultdict

sys.dont_write_bytecode = True  # no bench/__pycache__ for benchlib
from benchlib import fmt, median, num, raw_rows, read_meta, workdir_arg

BAR = 1.5


def main():
    work = workdir_arg(__doc__)
    meta = read_meta(work)
    times = defaultdict(dict)  # phase -> rep -> dict
    values = defaultdict(dict)  # (phase, key) -> rep -> str
    fails = []
    for p in raw_rows(work):
        if p[0] == "fail":
            fails.append(p[1:])
        elif p[0] == "time":
            times[p[1]][p[2]] = {"wall": float(p[3]), "user": float(p[4]), "sys": float(p[5]),
                                 "cpu": float(p[4]) + float(p[5]), "rss_mib": float(p[6]) / 1024,
                                 "server_cpu": float(p[7])}
        elif p[0] == "value":
            values[(p[1], p[2])][p[3]] = p[4]

    reps = sorted({r for ph in times.values() for r in ph} | {r for v in values.values() for r in v}, key=int)

    def series(prefix):
        """Rows (label, {rep: float}) for one site (prefix "" or "solo-files." ...)."""
        b, d = prefix + "backup", prefix + "drill"
        rows = []

        def t(phase, key):
            return {r: x[key] for r, x in times[phase].items()}

        def v(phase, key):
            return {r: num(x) for r, x in values[(phase, key)].items()}

        rows.append(("backup: wall (/usr/bin/time)", t(b, "wall")))
        rows.append(("backup: durationSeconds (run report)", v(b, "durationSeconds")))
        for c in ("files", "pg"):
            if (b, f"component.{c}.seconds") in values:
                rows.append((f"backup: component {c}", v(b, f"component.{c}.seconds")))
        rows.append(("backup: CPU user+sys (sitevault + pg_dump)", t(b, "cpu")))
        rows.append(("backup: peak RSS MiB", t(b, "rss_mib")))
        rows.append(("backup: PostgreSQL server CPU", t(b, "server_cpu")))
        rows.append(("drill: wall (/usr/bin/time)", t(d, "wall")))
        rows.append(("drill: totalSeconds (report)", v(d, "totalSeconds")))
        rows.append(("drill: **recoverySeconds** (report)", v(d, "recoverySeconds")))
        rows.append(("drill: backupSeconds (report, from the manifest)", v(d, "backupSeconds")))
        rows.append(("drill: cleanupSeconds (sandbox removal, scratch DB drop)", v(d, "cleanupSeconds")))
        steps = sorted({k for (ph, k) in values if ph == d and k.startswith("step.")},
                       key=lambda k: (k.split(".")[1] != "files", k))
        lanes = defaultdict(lambda: defaultdict(float))
        for k in steps:
            _, comp, name = k.split(".", 2)
            vals = v(d, k)
            rows.append((f"drill step: {comp} / {name}", vals))
            for r, x in vals.items():
                if x is not None:
                    lanes[comp][r] += x
        for comp, vals in lanes.items():
            rows.append((f"drill lane {comp}: sum of its steps", dict(vals)))
        rows.append(("drill: CPU user+sys (sitevault + pg_restore)", t(d, "cpu")))
        rows.append(("drill: peak RSS MiB", t(d, "rss_mib")))
        rows.append(("drill: PostgreSQL server CPU", t(d, "server_cpu")))
        rec, bsec, bwall, dwall = v(d, "recoverySeconds"), v(d, "backupSeconds"), t(b, "wall"), t(d, "wall")
        bdur = v(b, "durationSeconds")
        ratio = {r: rec[r] / bsec[r] for r in rec if rec.get(r) and bsec.get(r)}
        rows.append(("**ratio recoverySeconds / backupSeconds** (the bar)", ratio))
        # A drill report without backupSeconds (older binaries): the backup run's own durationSeconds.
        missing = {r: rec[r] / bdur[r] for r in rec if rec.get(r) and not bsec.get(r) and bdur.get(r)}
        if missing:
            rows.append(("ratio recoverySeconds / backup durationSeconds (drill report had no backupSeconds)", missing))
            ratio = {**ratio, **missing}
        rows.append(("ratio recoverySeconds / backup wall", {r: rec[r] / bwall[r] for r in rec if rec.get(r) and bwall.get(r)}))
        rows.append(("ratio drill wall / backup wall (end to end)", {r: dwall[r] / bwall[r] for r in dwall if bwall.get(r)}))
        rc = prefix + "recover"
        if rc in times:
            rdur = v(rc, "durationSeconds")
            rows.append(("recover (real, relocated): wall (/usr/bin/time)", t(rc, "wall")))
            rows.append(("recover: **durationSeconds** (report)", rdur))
            rows.append(("recover: CPU user+sys", t(rc, "cpu")))
            rows.append(("recover: peak RSS MiB", t(rc, "rss_mib")))
            same = {r: rec[r] / rdur[r] for r in rec if rec.get(r) and rdur.get(r)}
            rows.append(("**ratio drill recoverySeconds / real recovery durationSeconds** (bar 0.8–1.2)", same))
            if prefix == "":
                fidelity.update(same)
        return rows, ratio

    out = []
    p = out.append
    p("# sitevault recovery drill benchmark")
    p("")
    p(f"- dataset: scale {meta.get('scale')} ({meta.get('dataset_files')} files, "
      f"{int(meta.get('dataset_bytes', 0)) / 1048576:.1f} MiB) + pgbench scale {meta.get('pg_scale')} "
      f"(database {int(meta.get('db_bytes', 0)) / 1048576:.1f} MiB, {meta.get('db_rows_accounts')} accounts)")
    p(f"- sitevault: {meta.get('sitevault')}")
    p(f"- PostgreSQL {meta.get('pg_version')} ({meta.get('pg_settings')}); {meta.get('pg_dump')}")
    p(f"- host: {meta.get('nproc')} CPUs ({meta.get('cpu')}), {meta.get('mem')}, {meta.get('kernel')}; "
      f"workdir on {meta.get('workdir_fs')}; sandbox {meta.get('sandbox')}")
    p(f"- load average: start {meta.get('loadavg_start')}, end {meta.get('loadavg_end')}; "
      f"{meta.get('started')} – {meta.get('finished')}; {meta.get('page_cache')}")
    p(f"- repetitions: {meta.get('repeat')} (median shown), settle {meta.get('settle')} s before each; "
      f"PostgreSQL verify_sql: {meta.get('verify_sql')}")
    p("")
    results = {"meta": meta, "bar": BAR, "sites": {}, "failures": fails}
    fidelity = {}
    verdict_ratio = None
    for prefix, title in (("", "Whole site (files + pg)"), ("solo-files.", "Files component alone (--solo)"),
                          ("solo-pg.", "PostgreSQL component alone (--solo)")):
        if prefix + "backup" not in times and prefix + "drill" not in times:
            continue
        rows, ratio = series(prefix)
        p(f"## {title}")
        p("")
        p("| measure (seconds unless noted) | median | " + " | ".join(f"r{r}" for r in reps) + " |")
        p("|---|---:|" + "---:|" * len(reps))
        site = {}
        for label, vals in rows:
            if not vals:
                continue
            m = median(list(vals.values()))
            digits = 1 if "MiB" in label else 2
            p(f"| {label} | {fmt(m, digits)} | " + " | ".join(fmt(vals.get(r), digits) for r in reps) + " |")
            site[label.replace("*", "")] = {"median": m, "reps": vals}
        p("")
        results["sites"][prefix.rstrip(".") or "site"] = site
        if prefix == "":
            verdict_ratio = median(list(ratio.values()))
            details = {k: x for (ph, k), x in values.items() if ph == "drill" and k.startswith("stepdetail.")}
            if details:
                p("Step details (last repetition):")
                p("")
                for k, x in sorted(details.items()):
                    last = x[max(x, key=int)]
                    p(f"- {k[len('stepdetail.'):].replace('.', ' / ', 1)}: {last}")
                p("")
    if verdict_ratio is not None:
        ok = verdict_ratio <= BAR
        p(f"**Recovery / backup = {verdict_ratio:.2f}× (median of the per-repetition ratios "
          f"recoverySeconds / backupSeconds); bar ≤ {BAR}×: {'PASS' if ok else 'FAIL'}**")
        results["ratio"] = verdict_ratio
        results["pass"] = ok
    else:
        p(f"**No ratio: no repetition produced both recoverySeconds and backupSeconds: FAIL**")
        results["ratio"] = None
        results["pass"] = False
    if fidelity:
        f = median(list(fidelity.values()))
        ok2 = 0.8 <= f <= 1.2
        p("")
        p(f"**Drill / real recovery = {f:.2f}× (median of the per-repetition ratios of the drill's "
          f"recoverySeconds to the real recovery's durationSeconds); bar 0.8–1.2×: {'PASS' if ok2 else 'FAIL'}**")
        results["fidelity"] = f
        results["fidelity_pass"] = ok2
    if fails:
        p("")
        p("Failures:")
        for f_ in fails:
            p(f"- {' '.join(f_)}")
    print("\n".join(out))
    with open(f"{work}/results.json", "w") as f:
        json.dump(results, f, indent=2, default=str)


if __name__ == "__main__":
    main()
