"""The "site" profile of gen-dataset.py: a dataset shaped like a real web site (see gen-dataset.py's
doc), and the database part of its churn. Deterministic like the "mixed" profile, except that the
SQLite file's header records the version of the SQLite library that wrote it."""

import calendar
import os
import sqlite3
import time

from datasetlib import (BASE_MTIME, LEVELS, KiB, MiB, RecordStream, Text, Tree, random_dirs, rng_for, write_file,
                        write_stream)

N_SMALL = 20000
N_DIRS = 1500
DUP_FRACTION = 0.02
N_UPLOADS = 200
DB_SIZE = 200 * MiB
ARCHIVE_SIZE = 200 * MiB
DB = "big/site.sqlite"
ARCHIVE = "big/site-archive.tar.gz"
CHURN_DB_FRACTION = 0.01
DB_BATCH = 500  # posts per executemany; the size is checked after each
POST_STATUS = ["publish"] * 8 + ["draft", "private", "trash"]
SCHEMA = """
CREATE TABLE posts (id INTEGER PRIMARY KEY, created TEXT NOT NULL, author TEXT NOT NULL, status TEXT NOT NULL,
                    guid TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL, at TEXT NOT NULL, level TEXT NOT NULL,
                     message TEXT NOT NULL);
CREATE INDEX events_post ON events (post_id);
"""


def small_size(rng):
    return int(KiB * 64 ** rng.random())  # log-uniform 1 .. 64 KiB


def small_file(text, rng, size):
    """(extension, bytes) of one small site file: content, code, configuration or a log."""
    x = rng.random()
    if x < 0.35:
        ext = rng.choice(["html", "html", "md", "txt"])
        return ext, text.prose(size, ext).encode()
    if x < 0.60:
        ext = rng.choice(["php", "php", "js", "css"])
        return ext, text.code(size, ext).encode()
    if x < 0.80:
        ext = rng.choice(["yml", "json", "ini", "conf"])
        return ext, text.config(size, ext).encode()
    return "log", text.log(size).encode()


def semi_compressible(rng, records):
    """Chunks of random runs interleaved with text records (zstd keeps ~60 %): a pdf with images."""

    def chunk(n):
        out = []
        size = 0
        while size < n:
            k = rng.randint(1 * KiB, 16 * KiB)
            b = rng.randbytes(k) if rng.random() < 0.5 else records.chunk(k)[:k]
            out.append(b)
            size += len(b)
        return b"".join(out)

    return chunk


def generate(root, scale, seed):
    """The "site" profile into ROOT (an empty folder); returns a one-line summary."""
    tree = Tree(root)
    n_small = max(1, round(N_SMALL * scale))
    n_dirs = max(1, round(N_DIRS * scale))
    n_uploads = max(1, round(N_UPLOADS * scale))
    db_size = max(MiB, int(DB_SIZE * scale))
    archive_size = max(MiB, int(ARCHIVE_SIZE * scale))
    total = 0

    # --- small files, 2 % of them exact copies of an earlier one ----------------------------
    rng = rng_for(seed, "site-small")
    text = Text(seed, rng)
    dirs = random_dirs(tree, rng, text, "site", n_dirs)
    dups = set(rng.sample(range(1, n_small), min(round(n_small * DUP_FRACTION), n_small - 1)))
    originals = []
    for i in range(n_small):
        d = rng.choice(dirs)
        mtime = BASE_MTIME + rng.randrange(180 * 86400)
        if i in dups:
            src = rng.choice(originals)
            with open(src, "rb") as f:
                data = f.read()
            ext = src.rsplit(".", 1)[1]
        else:
            ext, data = small_file(text, rng, small_size(rng))
        path = os.path.join(root, d, f"{text.word()}-{i:05d}.{ext}")
        write_file(path, data, mtime)
        if i not in dups:
            originals.append(path)
        total += len(data)

    # --- uploads: half random, half semi-compressible ----------------------------------------
    rng = rng_for(seed, "site-uploads")
    text = Text(seed, rng)
    up_bytes = 0
    for i in range(n_uploads):
        size = rng.randint(MiB, 8 * MiB)
        mtime = BASE_MTIME + rng.randrange(180 * 86400)
        d = tree.month_dir("uploads", mtime)
        if i % 2 == 0:
            ext = rng.choice(["jpg", "jpg", "png", "mp4", "zip"])
            path = os.path.join(root, d, f"{text.word()}-{i:04d}.{ext}")
            write_stream(path, size, rng.randbytes)
        else:
            ext = rng.choice(["pdf", "pdf", "psd", "tiff", "epub"])
            path = os.path.join(root, d, f"{text.word()}-{i:04d}.{ext}")
            write_stream(path, size, semi_compressible(rng, RecordStream(text, rng, "jsonl")))
        os.chmod(path, 0o644)
        os.utime(path, (mtime, mtime))
        up_bytes += size
    total += up_bytes

    # --- the database and the archive -------------------------------------------------------
    rng = rng_for(seed, "site-big")
    text = Text(seed, rng)
    tree.mkdir("big", BASE_MTIME + 180 * 86400)
    p = os.path.join(root, DB)
    rows = write_db(p, db_size, rng, text)
    os.chmod(p, 0o644)
    os.utime(p, (BASE_MTIME + 179 * 86400,) * 2)
    db_bytes = os.path.getsize(p)
    p = os.path.join(root, ARCHIVE)
    write_stream(p, archive_size, rng.randbytes)
    os.chmod(p, 0o644)
    os.utime(p, (BASE_MTIME + 175 * 86400,) * 2)
    total += db_bytes + archive_size

    tree.finish()
    return (f"{n_small} small files ({len(dups)} duplicates) in {len(dirs)} dirs, {n_uploads} uploads "
            f"({up_bytes / MiB:.0f} MiB), database {db_bytes / MiB:.0f} MiB ({rows} posts), "
            f"archive {archive_size / MiB:.0f} MiB; total {total / MiB:.1f} MiB")


class Rows:
    """Mostly repetitive posts and events: bodies, titles and messages drawn from small pools."""

    def __init__(self, rng, text):
        self.rng = rng
        self.authors = [text.word() for _ in range(40)]
        self.titles = [" ".join(text.words(rng.randint(2, 8))).title() for _ in range(2000)]
        self.bodies = [text.prose(rng.randint(200, 3000), "html") for _ in range(2000)]
        self.messages = [text.log_message() for _ in range(500)]

    def batch(self, first_id, t, n):
        """N posts from id FIRST_ID at about time T, and their events; returns (posts, events, t)."""
        r = self.rng
        posts, events = [], []
        for k in range(n):
            t += r.randrange(900)
            pid = first_id + k
            posts.append((pid, stamp(t), r.choice(self.authors), r.choice(POST_STATUS),
                          f"{r.getrandbits(64):016x}", r.choice(self.titles), r.choice(self.bodies)))
            for _ in range(r.randint(0, 6)):
                events.append((pid, stamp(t + r.randrange(86400)), r.choice(LEVELS), r.choice(self.messages)))
        return posts, events, t


def stamp(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def open_db(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = OFF")  # no journal file left beside it
    con.execute("PRAGMA synchronous = OFF")
    return con


def insert(con, posts, events):
    con.executemany("INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?, ?)", posts)
    con.executemany("INSERT INTO events (post_id, at, level, message) VALUES (?, ?, ?, ?)", events)


def write_db(path, size, rng, text):
    """A SQLite database of at least SIZE bytes (checked after each batch of posts); the number of posts."""
    con = open_db(path)
    con.execute("PRAGMA page_size = 4096")
    con.executescript(SCHEMA)
    rows = Rows(rng, text)
    t = BASE_MTIME - 2 * 365 * 86400
    n = 0
    con.execute("BEGIN")
    while con.execute("PRAGMA page_count").fetchone()[0] * 4096 < size:
        posts, events, t = rows.batch(n + 1, t, DB_BATCH)
        insert(con, posts, events)
        n += len(posts)
    con.execute("COMMIT")
    con.close()
    return n


def churn_db(path, rng, text, mtime):
    """Updates 1 % of the posts (status and body) and inserts 1 % more; a one-line summary."""
    con = open_db(path)
    n, t = con.execute("SELECT max(id), max(created) FROM posts").fetchone()
    k = max(1, round(n * CHURN_DB_FRACTION))
    rows = Rows(rng, text)
    con.execute("BEGIN")
    for pid in sorted(rng.sample(range(1, n + 1), min(k, n))):
        con.execute("UPDATE posts SET status = ?, body = ? WHERE id = ?",
                    (rng.choice(POST_STATUS), text.prose(rng.randint(200, 3000), "html"), pid))
    posts, events, _ = rows.batch(n + 1, calendar.timegm(time.strptime(t, "%Y-%m-%d %H:%M:%S")), k)
    insert(con, posts, events)
    con.execute("COMMIT")
    con.close()
    os.utime(path, (mtime, mtime))
    return f"updated {min(k, n)} posts and inserted {k} in {DB}"
