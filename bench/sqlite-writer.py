#!/usr/bin/env python3
"""SQLite side of bench/db-bench.sh (standard library only).

  sqlite-writer.py gen DB --mb N
      Creates a WAL-mode database of about N MiB (an `orders` table with an index, rows of
      ~300 bytes of hex text), checkpointed so that the file stands alone. Writes DB.tmp first
      and renames it, so an interrupted run leaves nothing half-made under DB.

  sqlite-writer.py gen-version
      Prints the version of the generator (db-bench.sh regenerates a cached database when it changes).

  sqlite-writer.py write DB --out FILE [--rate 1000] [--synchronous NORMAL] [--ready FILE] [--seconds S]
      Inserts one row per transaction (autocommit) at a steady RATE per second, paced on an
      absolute schedule (a stall is followed by catching up, and shows as lateness), until
      SIGTERM/SIGINT or S seconds. For every commit it records: the wall-clock time it started
      (time.time(), comparable with `date +%s.%N`), its latency (INSERT + COMMIT, perf_counter)
      and its lateness (end minus the scheduled start). Busy/locked errors are counted, not fatal
      (busy_timeout is 10 s, so a blocked writer shows up as latency, not as an error).
      At exit the records are written to FILE as TSV: start_epoch latency_s lateness_s ok(1/0).

  sqlite-writer.py stats FILE --from T0 --to T1
      JSON statistics of the commits that overlap the window [T0, T1] ("during") and of those
      that ended before T0 ("before", the baseline): count, commits/s, p50/p99/p999/max commit
      latency and max lateness in ms, errors.
"""
import argparse
import json
import math
import os
import signal
import sqlite3
import sys
import time

GEN_VERSION = "1"  # bump when `gen` changes what it writes


def gen(path, mb):
    tmp = path + ".tmp"
    for p in (tmp, tmp + "-wal", tmp + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    con = sqlite3.connect(tmp, isolation_level=None)
    con.execute("PRAGMA page_size = 4096")
    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        sys.exit(f"sqlite-writer.py: could not switch {tmp} to WAL mode (got {mode})")
    con.execute("PRAGMA synchronous = OFF")  # generation only; the writer uses its own setting
    con.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, created REAL NOT NULL, customer TEXT NOT NULL,"
        " amount INTEGER NOT NULL, payload TEXT NOT NULL)"
    )
    con.execute("CREATE INDEX orders_customer ON orders(customer, created)")
    target = mb * 1024 * 1024
    batch = 20000
    t0 = time.time()
    while True:
        con.execute("BEGIN")
        con.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
            "INSERT INTO orders (created, customer, amount, payload) "
            "SELECT julianday('now'), 'customer-' || (abs(random()) % 50000), abs(random()) % 100000, "
            "hex(randomblob(150)) FROM c",
            (batch,),
        )
        con.execute("COMMIT")
        size = con.execute("PRAGMA page_count").fetchone()[0] * con.execute("PRAGMA page_size").fetchone()[0]
        if size >= target:
            break
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = con.execute("SELECT count(*) FROM orders").fetchone()[0]
    con.close()
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.unlink(tmp + suffix)
    print(json.dumps({"path": path, "bytes": os.path.getsize(path), "rows": rows,
                      "seconds": round(time.time() - t0, 1)}))


def write(args):
    stop = False

    def on_signal(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    con = sqlite3.connect(args.db, isolation_level=None, timeout=10.0)
    mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        sys.exit(f"sqlite-writer.py: {args.db} is not in WAL mode (got {mode})")
    con.execute(f"PRAGMA synchronous = {args.synchronous}")
    con.execute("PRAGMA busy_timeout = 10000")
    payload = os.urandom(150).hex()
    sql = "INSERT INTO orders (created, customer, amount, payload) VALUES (?, ?, ?, ?)"
    starts, lats, lates, oks = [], [], [], []
    interval = 1.0 / args.rate
    if args.ready:
        with open(args.ready, "w") as f:
            f.write(f"{os.getpid()}\n")
    t_begin = time.perf_counter()
    deadline = t_begin + args.seconds if args.seconds else None
    i = 0
    while not stop:
        sched = t_begin + i * interval
        now = time.perf_counter()
        if deadline and now >= deadline:
            break
        if sched > now:
            time.sleep(sched - now)
        wall = time.time()
        a = time.perf_counter()
        ok = 1
        try:
            con.execute(sql, (wall, f"customer-{i % 50000}", i % 100000, payload))
        except sqlite3.OperationalError:
            ok = 0
        b = time.perf_counter()
        starts.append(wall)
        lats.append(b - a)
        lates.append(b - sched)
        oks.append(ok)
        i += 1
    con.close()
    with open(args.out + ".tmp", "w") as f:
        for s, l, z, o in zip(starts, lats, lates, oks):
            f.write(f"{s:.6f}\t{l:.6f}\t{z:.6f}\t{o}\n")
    os.replace(args.out + ".tmp", args.out)
    print(json.dumps({"commits": len(starts), "errors": oks.count(0),
                      "seconds": round(time.perf_counter() - t_begin, 2)}))


def pct(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


def summarize(recs):
    if not recs:
        return {"commits": 0}
    lat = sorted(r[1] for r in recs)
    span = max(r[0] + r[1] for r in recs) - min(r[0] for r in recs)
    ms = lambda v: None if v is None else round(v * 1000.0, 2)
    return {
        "commits": len(recs),
        "commits_per_s": round(len(recs) / span, 1) if span > 0 else None,
        "p50_ms": ms(pct(lat, 50)),
        "p99_ms": ms(pct(lat, 99)),
        "p999_ms": ms(pct(lat, 99.9)),
        "max_ms": ms(lat[-1]),
        "max_late_ms": ms(max(r[2] for r in recs)),
        "over_50ms": sum(1 for v in lat if v > 0.050),
        "errors": sum(1 for r in recs if r[3] == 0),
    }


def stats(args):
    recs = []
    with open(args.file) as f:
        for line in f:
            s, l, z, o = line.split("\t")
            recs.append((float(s), float(l), float(z), int(o)))
    during = [r for r in recs if r[0] <= args.to and r[0] + r[1] >= args.start]
    before = [r for r in recs if r[0] + r[1] < args.start]
    print(json.dumps({"window_s": round(args.to - args.start, 3), "during": summarize(during),
                      "before": summarize(before), "total_commits": len(recs)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("db")
    g.add_argument("--mb", type=int, default=500)
    sub.add_parser("gen-version")
    w = sub.add_parser("write")
    w.add_argument("db")
    w.add_argument("--out", required=True)
    w.add_argument("--rate", type=float, default=1000.0)
    w.add_argument("--synchronous", default="NORMAL", choices=["OFF", "NORMAL", "FULL", "EXTRA"])
    w.add_argument("--ready")
    w.add_argument("--seconds", type=float, default=0.0)
    s = sub.add_parser("stats")
    s.add_argument("file")
    s.add_argument("--from", dest="start", type=float, required=True)
    s.add_argument("--to", type=float, required=True)
    a = ap.parse_args()
    if a.cmd == "gen":
        if a.mb <= 0:
            sys.exit("sqlite-writer.py: --mb must be positive")
        gen(a.db, a.mb)
    elif a.cmd == "gen-version":
        print(GEN_VERSION)
    elif a.cmd == "write":
        if a.rate <= 0:
            sys.exit("sqlite-writer.py: --rate must be positive")
        write(a)
    else:
        stats(a)


if __name__ == "__main__":
    main()
