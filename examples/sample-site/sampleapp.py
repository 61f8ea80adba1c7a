#!/usr/bin/env python3
"""A small server application used as sitevault's sample site (tests and the README's demo).

It runs in the background with a pid file, reads its config file, keeps writing orders into a
SQLite database (WAL) and attachments into its data folder, and records the longest time one of
its writes was blocked (stats.json), so a backup's effect on the application can be measured.

  sampleapp.py --config CONF          run (foreground; start it with & or setsid)
  sampleapp.py --version              print the version
  sampleapp.py --check CONF           verify the database: every order's total equals its lines
"""
import json, os, signal, sqlite3, sys, time

VERSION = "1.4.2"


def load_config(path):
    conf = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                conf[k.strip()] = v.strip()
    return conf


def open_db(path):
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, customer TEXT, total INTEGER, created REAL)")
    db.execute("CREATE TABLE IF NOT EXISTS lines(order_id INTEGER, item TEXT, amount INTEGER)")
    return db


def check(conf_path):
    conf = load_config(conf_path)
    db = sqlite3.connect(conf["database"])
    bad = db.execute("""SELECT count(*) FROM orders o WHERE total != (SELECT coalesce(sum(amount),0) FROM lines l WHERE l.order_id = o.id)""").fetchone()[0]
    n = db.execute("SELECT count(*) FROM orders").fetchone()[0]
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    print(json.dumps({"orders": n, "inconsistent": bad, "integrity": ok}))
    return 0 if bad == 0 and ok == "ok" else 1


def run(conf_path):
    # A daemon keeps no descriptor it inherited by accident (a parent's pipe would never see EOF).
    os.closerange(3, 65536)
    conf = load_config(conf_path)
    rate = float(conf.get("writes_per_second", "50"))
    data = conf["data_dir"]
    os.makedirs(data, exist_ok=True)
    with open(conf["pid_file"], "w") as f:
        f.write(str(os.getpid()) + "\n")
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    db = open_db(conf["database"])
    worst = 0.0
    n = 0
    stats_path = conf.get("stats_file", os.path.join(data, "..", "stats.json"))
    last_stats = 0.0
    while not stop:
        t0 = time.monotonic()
        db.execute("BEGIN IMMEDIATE")
        cur = db.execute("INSERT INTO orders(customer, total, created) VALUES(?, 0, ?)", ("customer-%d" % (n % 97), time.time()))
        oid = cur.lastrowid
        total = 0
        for i in range(3):
            amount = (n * 7 + i * 13) % 500 + 1
            total += amount
            db.execute("INSERT INTO lines VALUES(?, ?, ?)", (oid, "item-%d" % i, amount))
        db.execute("UPDATE orders SET total = ? WHERE id = ?", (total, oid))
        db.execute("COMMIT")
        if n % 50 == 0:
            with open(os.path.join(data, "attachment-%06d.txt" % (n // 50)), "w") as f:
                f.write(("order %d total %d\n" % (oid, total)) * 20)
        n += 1
        took = time.monotonic() - t0
        worst = max(worst, took)
        now = time.monotonic()
        if now - last_stats > 0.2:
            tmp = stats_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"writes": n, "worst_write_seconds": worst, "pid": os.getpid()}, f)
            os.replace(tmp, stats_path)
            last_stats = now
        delay = 1.0 / rate - (time.monotonic() - t0)
        if delay > 0:
            time.sleep(delay)
    db.close()
    try:
        os.unlink(conf["pid_file"])
    except FileNotFoundError:
        pass
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--version":
        print("sampleapp " + VERSION)
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "--config":
        sys.exit(run(sys.argv[2]))
    print(__doc__)
    sys.exit(64)
