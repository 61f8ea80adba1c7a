#!/usr/bin/env python3
"""Generate a reproducible benchmark dataset for sitevault (and restic/borg).

Usage:
    gen-dataset.py DIR [--profile mixed|site] [--scale S] [--seed N]
                                                  generate a dataset into DIR
    gen-dataset.py churn DIR [--seed N]           apply a reproducible churn to DIR
                                                  (either profile, recognised by its files)

Profile "mixed" (the default): at --scale 1.0 the dataset is about 1.5 GB:

    site/     ~20,000 small text files (200 B .. 20 KiB, log-uniform), prose /
              markdown / html, log files and config files (ini, yaml, json),
              spread over a random nested tree of ~1,000 directories
    uploads/  300 "uploads" of 1..8 MiB (log-uniform); half incompressible
              random bytes (jpg/mp4/zip), half compressible structured records
              (csv/sql/jsonl)
    big/      disk.img: 200 MiB of random bytes
              app.log:  200 MiB of compressible-ish log lines

Profile "site", shaped like a real web site: at --scale 1.0 about 1.7 GB:

    site/     20,000 small text files (1 .. 64 KiB, log-uniform): content
              (html/md/txt), code (php/js/css), configuration (yml/json/ini/
              conf) and logs in a nested tree of ~1,500 directories; 2 % of
              them (400) are exact copies of another small file
    uploads/  200 uploads of 1..8 MiB (uniform); half random bytes
              (jpg/png/mp4/zip), half semi-compressible (pdf/psd/tiff/epub:
              random runs interleaved with text records, zstd keeps ~60 %)
    big/      site.sqlite: a ~200 MiB SQLite database (Python's sqlite3) of
              mostly repetitive rows (posts drawn from a small pool of bodies,
              events from a small pool of messages)
              site-archive.tar.gz: 200 MiB of random bytes

--scale multiplies the file and directory counts and the size of the two big
files; the size range of individual small files and uploads is kept so that
per-file characteristics stay the same at every scale.

The content depends only on the seed and the scale: every byte comes from
Python's `random.Random` seeded with a string (randbytes/choices/...), never from
os.urandom, and file/dir mtimes and modes are fixed. numpy is deliberately not
used even when installed, so the bytes are identical on every machine.

`churn` (deterministic given the same input tree) modifies ~5% of the small
files (in-place overwrite, append or rewrite), deletes 0.25% of them (50 at
scale 1), adds as many new ones and appends 2% of its size to big/app.log.
On a "site" dataset, instead of the log append, it updates 1 % of the database's
posts and inserts 1 % more (through sqlite3, so pages change all over the file).
Changed files get a fixed mtime that is later than any generated one.

The SQLite file's bytes also depend on the SQLite library's version (its header
records the version that wrote it; page layout has been stable for years).
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ for datasetlib
import site_dataset
from datasetlib import (BASE_MTIME, BLOCK, CHURN_MTIME, DEFAULT_SEED, KiB, LEVELS, MiB, RecordStream, Text, Tree,
                        random_dirs, rng_for, write_file, write_stream)

PROFILES = ("mixed", "site")
N_SMALL = 20000
N_DIRS = 1000
N_UPLOADS = 300
BIG_SIZE = 200 * MiB
CHURN_MODIFY_FRACTION = 0.05
CHURN_ADD_DELETE_FRACTION = 50 / N_SMALL


def small_file(text, rng, size):
    """Return (extension, bytes) for one small file."""
    x = rng.random()
    if x < 0.45:
        ext = rng.choice(["md", "txt", "html"])
        return ext, text.prose(size, ext).encode()
    if x < 0.70:
        return "log", text.log(size).encode()
    ext = rng.choice(["conf", "ini", "yml", "json"])
    return ext, text.config(size, ext).encode()


def small_size(rng):
    return int(200 * 100 ** rng.random())  # log-uniform 200 B .. 20 KB


def big_log_chunk(text, rng, state):
    """Log lines for the big log file; `state` = [timestamp_ms, request_counter]."""
    pool = [f" [{rng.choice(text.components)}] {text.log_message()}\n" for _ in range(20000)]
    levels = LEVELS

    def chunk(n):
        out = []
        size = 0
        t, req = state
        last_sec = -1
        prefix = ""
        choices = rng.choices(pool, k=n // 100 + 64)
        for msg in choices:
            t += rng.randrange(400)
            sec = t // 1000
            if sec != last_sec:
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
                last_sec = sec
            req += 1
            line = f"{prefix}.{t % 1000:03d}Z {levels[req % len(levels)]} req={req:08x}{msg}"
            out.append(line)
            size += len(line)
            if size >= n:
                break
        state[0], state[1] = t, req
        return "".join(out).encode()

    return chunk


def generate(root, scale, seed):
    """The "mixed" profile (see the module doc) into ROOT; returns a one-line summary."""
    tree = Tree(root)
    n_small = max(1, round(N_SMALL * scale))
    n_dirs = max(1, round(N_DIRS * scale))
    n_uploads = max(1, round(N_UPLOADS * scale))
    big = max(MiB, int(BIG_SIZE * scale))
    total = 0

    # --- small files in a nested tree ---------------------------------
    rng = rng_for(seed, "small")
    text = Text(seed, rng)
    dirs = random_dirs(tree, rng, text, "site", n_dirs)
    for i in range(n_small):
        d = rng.choice(dirs)
        size = small_size(rng)
        ext, data = small_file(text, rng, size)
        path = os.path.join(root, d, f"{text.word()}-{i:05d}.{ext}")
        write_file(path, data, BASE_MTIME + rng.randrange(180 * 86400))
        total += len(data)

    # --- uploads ---------------------------------------------------------
    rng = rng_for(seed, "uploads")
    text = Text(seed, rng)
    up_bytes = 0
    for i in range(n_uploads):
        size = int(MiB * 2 ** (3 * rng.random()))  # log-uniform 1..8 MiB
        mtime = BASE_MTIME + rng.randrange(180 * 86400)
        d = tree.month_dir("uploads", mtime)
        if i % 2 == 0:
            ext = rng.choice(["jpg", "jpg", "mp4", "zip", "pdf"])
            path = os.path.join(root, d, f"{text.word()}-{i:04d}.{ext}")
            write_stream(path, size, rng.randbytes)
        else:
            kind = rng.choice(["csv", "sql", "jsonl"])
            rs = RecordStream(text, rng, kind)
            path = os.path.join(root, d, f"{text.word()}-export-{i:04d}.{kind}")
            write_stream(path, size, rs.chunk, rs.header())
        os.chmod(path, 0o644)
        os.utime(path, (mtime, mtime))
        up_bytes += size
    total += up_bytes

    # --- two big files ---------------------------------------------------
    rng = rng_for(seed, "big")
    text = Text(seed, rng)
    tree.mkdir("big", BASE_MTIME + 180 * 86400)
    p = os.path.join(root, "big", "disk.img")
    write_stream(p, big, rng.randbytes)
    os.chmod(p, 0o644)
    os.utime(p, (BASE_MTIME + 170 * 86400,) * 2)
    p = os.path.join(root, "big", "app.log")
    write_stream(p, big, big_log_chunk(text, rng, [(BASE_MTIME - 90 * 86400) * 1000, 0]))
    os.chmod(p, 0o644)
    os.utime(p, (BASE_MTIME + 179 * 86400,) * 2)
    total += 2 * big

    tree.finish()
    return (f"{n_small} small files in {len(dirs)} dirs, {n_uploads} uploads ({up_bytes / MiB:.0f} MiB), "
            f"2 x {big / MiB:.0f} MiB; total {total / MiB:.1f} MiB")


def churn(root, seed, quiet=False):
    """Churn a dataset of either profile (see the module doc), recognised by its big files."""
    site = os.path.join(root, "site")
    log = os.path.join(root, "big", "app.log")
    db = os.path.join(root, site_dataset.DB)
    if not os.path.isdir(site) or not (os.path.isfile(log) or os.path.isfile(db)):
        sys.exit(f"gen-dataset churn: {root} does not look like a generated dataset (no site/, "
                 f"no big/app.log or {site_dataset.DB})")
    rng = rng_for(seed, "churn")
    text = Text(seed, rng)
    files, dirs = [], []
    for d, dn, fn in os.walk(site):
        dn.sort()
        dirs.append(d)
        files.extend(os.path.join(d, f) for f in sorted(fn))
    n = len(files)
    n_mod = max(1, round(n * CHURN_MODIFY_FRACTION))
    n_add = n_del = max(1, round(n * CHURN_ADD_DELETE_FRACTION))
    picks = rng.sample(files, min(n, n_mod + n_del))
    mod, dele = picks[:n_mod], picks[n_mod:]
    touched_dirs = set()
    mt = CHURN_MTIME
    for p in mod:
        x = rng.random()
        size = os.path.getsize(p)
        if x < 0.4 and size > 16:
            # overwrite a region in place, size unchanged
            off = rng.randrange(size // 2)
            data = text.prose(min(size - off, rng.randint(16, 2000)), "txt").encode()
            with open(p, "r+b") as f:
                f.seek(off)
                f.write(data)
        elif x < 0.8:
            with open(p, "ab") as f:
                f.write(text.log(rng.randint(50, 3000)).encode())
        else:
            with open(p, "wb") as f:
                f.write(text.prose(small_size(rng), "txt").encode())
        mt += 1
        os.utime(p, (mt, mt))
    for p in dele:
        os.remove(p)
        touched_dirs.add(os.path.dirname(p))
    for i in range(n_add):
        d = rng.choice(dirs)
        ext, data = small_file(text, rng, small_size(rng))
        p = os.path.join(d, f"new-{text.word()}-{i:05d}.{ext}")
        mt += 1
        write_file(p, data, mt)
        touched_dirs.add(d)
    if os.path.isfile(log):
        size = os.path.getsize(log)
        app = max(64 * KiB, size // 50)
        chunk = big_log_chunk(text, rng, [CHURN_MTIME * 1000, 1 << 30])
        with open(log, "ab") as f:
            left = app
            while left > 0:
                b = chunk(min(BLOCK, left))[:left]
                f.write(b)
                left -= len(b)
        os.utime(log, (CHURN_MTIME + 86400,) * 2)
        big = f"appended {app / KiB:.0f} KiB to big/app.log"
    else:
        big = site_dataset.churn_db(db, rng, text, CHURN_MTIME + 86400)
    for d in touched_dirs:
        os.utime(d, (CHURN_MTIME + 86400,) * 2)
    if not quiet:
        print(f"gen-dataset churn: modified {len(mod)}, deleted {len(dele)}, added {n_add} small files; {big}")


def main(argv):
    if argv[:1] == ["churn"]:
        ap = argparse.ArgumentParser(prog="gen-dataset.py churn",
                                     description="Apply a reproducible churn to a generated dataset.")
        ap.add_argument("dir")
        ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
        ap.add_argument("-q", "--quiet", action="store_true")
        a = ap.parse_args(argv[1:])
        churn(a.dir, a.seed, a.quiet)
        return
    ap = argparse.ArgumentParser(
        prog="gen-dataset.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="output directory (must not exist or be empty); "
                                "use 'churn DIR' to apply churn instead")
    ap.add_argument("--profile", choices=PROFILES, default="mixed",
                    help="dataset shape (default mixed; site = shaped like a real web site)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply counts/sizes (default 1.0 = ~1.5 GB mixed, ~1.7 GB site)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    if not a.scale > 0:
        ap.error("--scale must be > 0")
    if os.path.exists(a.dir) and os.listdir(a.dir):
        sys.exit(f"gen-dataset: {a.dir} exists and is not empty")
    t0 = time.time()
    os.makedirs(a.dir, exist_ok=True)
    make = generate if a.profile == "mixed" else site_dataset.generate
    summary = make(a.dir, a.scale, a.seed)
    if not a.quiet:
        print(f"gen-dataset: profile {a.profile}, scale {a.scale:g}: {summary} in {time.time() - t0:.1f}s -> {a.dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
