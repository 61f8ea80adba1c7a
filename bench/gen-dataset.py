#!/usr/bin/env python3
"""Generate a reproducible benchmark dataset for sitevault (and restic/borg).

Usage:
    gen-dataset.py DIR [--scale S] [--seed N]     generate a dataset into DIR
    gen-dataset.py churn DIR [--seed N]           apply a reproducible churn to DIR

At --scale 1.0 the dataset is about 1.5 GB:

    site/     ~20,000 small text files (200 B .. 20 KiB, log-uniform), prose /
              markdown / html, log files and config files (ini, yaml, json),
              spread over a random nested tree of ~1,000 directories
    uploads/  300 "uploads" of 1..8 MiB (log-uniform); half incompressible
              random bytes (jpg/mp4/zip), half compressible structured records
              (csv/sql/jsonl)
    big/      disk.img: 200 MiB of random bytes
              app.log:  200 MiB of compressible-ish log lines

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
Changed files get a fixed mtime that is later than any generated one.
"""

import argparse
import itertools
import os
import random
import sys
import time

DEFAULT_SEED = 20240601
BASE_MTIME = 1704067200  # 2024-01-01T00:00:00Z
CHURN_MTIME = BASE_MTIME + 200 * 86400
KiB = 1 << 10
MiB = 1 << 20
BLOCK = 4 * MiB

N_SMALL = 20000
N_DIRS = 1000
N_UPLOADS = 300
BIG_SIZE = 200 * MiB
CHURN_MODIFY_FRACTION = 0.05
CHURN_ADD_DELETE_FRACTION = 50 / N_SMALL


def rng_for(seed, name):
    # String seeds are hashed with SHA-512 (seed version 2): stable across
    # runs, platforms and PYTHONHASHSEED.
    return random.Random(f"sitevault-bench:{seed}:{name}")


SYLLABLES = (
    "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo "
    "mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti "
    "to tu va ve vi vo an en in on un ar er ir or ur al el il ol st tr pl gr "
    "ch sh th ck ng ld nt rd"
).split()
COMMON = (
    "the of and to in is that for it as with was on be by at this are from or "
    "an which not but have has had were their will would can all one there "
    "been more if when into other some time only new data file server user "
    "page site backup error request cache config value update system"
).split()
LEVELS = ["INFO"] * 12 + ["DEBUG"] * 6 + ["WARN"] * 3 + ["ERROR"]
HTTP = ["GET"] * 8 + ["POST"] * 3 + ["PUT", "DELETE", "HEAD"]
STATUS = [200] * 20 + [304] * 4 + [301, 302, 404, 404, 403, 500, 502]


class Text:
    """Pseudo-English / log / config text from a seeded RNG."""

    def __init__(self, seed, rng):
        vr = rng_for(seed, "vocab")
        seen = set(COMMON)
        vocab = list(COMMON)
        while len(vocab) < 5000:
            w = "".join(vr.choice(SYLLABLES) for _ in range(vr.choice((1, 2, 2, 3, 3, 3, 4))))
            if w not in seen:
                seen.add(w)
                vocab.append(w)
        self.vocab = vocab
        # Zipf-like word frequencies.
        self.cum = list(itertools.accumulate(1.0 / (i + 1) ** 1.05 for i in range(len(vocab))))
        self.components = vocab[40:90]
        self.rng = rng

    def words(self, k):
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=k)

    def word(self):
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=1)[0]

    def path(self):
        r = self.rng
        return "/" + "/".join(self.words(r.randint(1, 4)))

    def ip(self):
        r = self.rng
        return f"{r.randint(10, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def prose(self, nbytes, kind="md"):
        r = self.rng
        ws = self.words(nbytes // 6 + 16)
        out = []
        if kind == "md":
            out.append("# " + " ".join(self.words(r.randint(2, 6))).title() + "\n\n")
        elif kind == "html":
            out.append("<html><head><title>" + " ".join(self.words(3)).title() + "</title></head><body>\n")
        i = 0
        size = sum(map(len, out))
        while size < nbytes:
            para = []
            for _ in range(r.randint(2, 7)):
                n = r.randint(4, 18)
                s = ws[i:i + n] or self.words(n)
                i += n
                para.append(" ".join(s).capitalize() + r.choice("....!?"))
            p = " ".join(para)
            if kind == "html":
                p = "<p>" + p + "</p>"
            elif kind == "md" and r.random() < 0.15:
                p = "## " + " ".join(self.words(r.randint(2, 5))).title() + "\n\n" + p
            p += "\n\n"
            out.append(p)
            size += len(p)
        if kind == "html":
            out.append("</body></html>\n")
        return "".join(out)[:max(nbytes, 1)]

    def log_message(self):
        r = self.rng
        k = r.randrange(6)
        if k == 0:
            return (f'{self.ip()} "{r.choice(HTTP)} {self.path()} HTTP/1.1" {r.choice(STATUS)} '
                    f"{r.randint(0, 99999)} {r.randint(1, 2500)}ms")
        if k == 1:
            return f"user {self.word()} logged in from {self.ip()}"
        if k == 2:
            return f"cache miss for key {self.word()}:{r.getrandbits(32):08x}"
        if k == 3:
            return f"job {self.word()} finished in {r.random() * 30:.3f}s ({r.randint(0, 5000)} items)"
        if k == 4:
            return f"connection to {self.word()}.internal:{r.randint(1024, 65535)} " + r.choice(
                ["established", "closed", "reset by peer", "timed out"])
        return " ".join(self.words(r.randint(3, 12)))

    def log(self, nbytes, start=None):
        r = self.rng
        t = BASE_MTIME - 365 * 86400 + r.randrange(300 * 86400) if start is None else start
        out = []
        size = 0
        while size < nbytes:
            t += r.randint(0, 90)
            line = (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) +
                    f" {r.choice(LEVELS)} [{r.choice(self.components)}] {self.log_message()}\n")
            out.append(line)
            size += len(line)
        return "".join(out)[:max(nbytes, 1)]

    def config(self, nbytes, kind):
        r = self.rng
        out = []
        size = 0
        first = True
        while size < nbytes:
            sect = self.word()
            if kind == "ini" or kind == "conf":
                lines = [f"[{sect}]"]
                fmt = "{k} = {v}"
            elif kind == "yml":
                lines = [f"{sect}:"]
                fmt = "  {k}: {v}"
            else:
                lines = [("{" if first else ",") + f'"{sect}": {{']
                fmt = '  "{k}": "{v}",'
            first = False
            for _ in range(r.randint(2, 12)):
                v = r.choice([
                    str(r.randint(0, 65535)),
                    r.choice(["true", "false", "on", "off"]),
                    self.path(),
                    " ".join(self.words(r.randint(1, 4))),
                    f"{self.word()}.example.org",
                ])
                lines.append(fmt.format(k="_".join(self.words(r.randint(1, 2))), v=v))
            if kind == "json":
                lines.append('  "_": null}')
            s = "\n".join(lines) + "\n\n"
            out.append(s)
            size += len(s)
        s = "".join(out)
        if kind == "json":
            s += "}\n"
        return s[:max(nbytes, 1)]


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


def write_file(path, data, mtime, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))


class RecordStream:
    """Compressible structured records: a pool of pre-rendered rows drawn in
    random order, each prefixed with a unique increasing id, so the content
    compresses well but does not deduplicate across files."""

    def __init__(self, text, rng, kind):
        self.rng = rng
        self.kind = kind
        self.n = rng.randint(1, 10 ** 6)
        pool = []
        for _ in range(4000):
            name = text.word().capitalize() + " " + text.word().capitalize()
            city = text.word().capitalize()
            amount = f"{rng.random() * 1000:.2f}"
            day = time.strftime("%Y-%m-%d", time.gmtime(BASE_MTIME - rng.randrange(3 * 365 * 86400)))
            status = rng.choice(["paid", "open", "cancelled", "refunded", "shipped"])
            email = f"{text.word()}.{text.word()}@{text.word()}.example.com"
            if kind == "csv":
                pool.append(f",{name},{email},{city},{amount},{day},{status}\n")
            elif kind == "sql":
                pool.append(f", '{name}', '{email}', '{city}', {amount}, '{day}', '{status}');\n")
            else:
                pool.append(f', "name": "{name}", "email": "{email}", "city": "{city}", '
                            f'"amount": {amount}, "date": "{day}", "status": "{status}"}}\n')
        self.pool = pool

    def header(self):
        if self.kind == "csv":
            return b"id,name,email,city,amount,date,status\n"
        if self.kind == "sql":
            return b"-- fake dump\nBEGIN;\n"
        return b""

    def chunk(self, approx):
        rows = self.rng.choices(self.pool, k=max(1, approx // 90))
        n0 = self.n
        self.n += len(rows)
        if self.kind == "csv":
            pre = "{}"
        elif self.kind == "sql":
            pre = "INSERT INTO orders VALUES ({}"
        else:
            pre = '{{"id": {}'
        return "".join([pre.format(n0 + j) + row for j, row in enumerate(rows)]).encode()


def write_stream(path, size, chunk_fn, first=b""):
    """Write exactly `size` bytes produced by chunk_fn(n) in large blocks."""
    left = size
    with open(path, "wb") as f:
        if first:
            f.write(first[:left])
            left -= min(len(first), left)
        while left > 0:
            b = chunk_fn(min(BLOCK, left))
            if len(b) > left:
                b = b[:left]
            f.write(b)
            left -= len(b)


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


def generate(root, scale, seed, quiet=False):
    if os.path.exists(root) and os.listdir(root):
        sys.exit(f"gen-dataset: {root} exists and is not empty")
    t0 = time.time()
    os.makedirs(root, exist_ok=True)
    n_small = max(1, round(N_SMALL * scale))
    n_dirs = max(1, round(N_DIRS * scale))
    n_uploads = max(1, round(N_UPLOADS * scale))
    big = max(MiB, int(BIG_SIZE * scale))
    total = 0
    dirs_made = []

    def mkdir(rel, mtime):
        parts = rel.split("/")
        for k in range(1, len(parts) + 1):
            sub = "/".join(parts[:k])
            if not os.path.isdir(os.path.join(root, sub)):
                os.mkdir(os.path.join(root, sub))
                dirs_made.append((sub, mtime))

    # --- small files in a nested tree ---------------------------------
    rng = rng_for(seed, "small")
    text = Text(seed, rng)
    dirs = ["site"]
    names = {"site": set()}
    for _ in range(n_dirs - 1):
        parent = rng.choice(dirs)
        name = text.word()
        if rng.random() < 0.3:
            name += "-" + text.word()
        while name in names[parent]:
            name += str(rng.randint(0, 9))
        names[parent].add(name)
        d = parent + "/" + name
        dirs.append(d)
        names[d] = set()
    for d in dirs:
        mkdir(d, BASE_MTIME + rng.randrange(180 * 86400))
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
        d = time.strftime("uploads/%Y/%m", time.gmtime(mtime))
        if not os.path.isdir(os.path.join(root, d)):
            mkdir(d, BASE_MTIME + 180 * 86400)
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
    mkdir("big", BASE_MTIME + 180 * 86400)
    p = os.path.join(root, "big", "disk.img")
    write_stream(p, big, rng.randbytes)
    os.chmod(p, 0o644)
    os.utime(p, (BASE_MTIME + 170 * 86400,) * 2)
    p = os.path.join(root, "big", "app.log")
    write_stream(p, big, big_log_chunk(text, rng, [(BASE_MTIME - 90 * 86400) * 1000, 0]))
    os.chmod(p, 0o644)
    os.utime(p, (BASE_MTIME + 179 * 86400,) * 2)
    total += 2 * big

    # Directory mtimes last (creating entries bumps them).
    for rel, mtime in dirs_made:
        os.chmod(os.path.join(root, rel), 0o755)
        os.utime(os.path.join(root, rel), (mtime, mtime))
    os.chmod(root, 0o755)
    os.utime(root, (BASE_MTIME + 180 * 86400,) * 2)
    if not quiet:
        print(f"gen-dataset: scale {scale:g}: {n_small} small files in {len(dirs)} dirs, "
              f"{n_uploads} uploads ({up_bytes / MiB:.0f} MiB), 2 x {big / MiB:.0f} MiB; "
              f"total {total / MiB:.1f} MiB in {time.time() - t0:.1f}s -> {root}")


def churn(root, seed, quiet=False):
    site = os.path.join(root, "site")
    log = os.path.join(root, "big", "app.log")
    if not os.path.isdir(site) or not os.path.isfile(log):
        sys.exit(f"gen-dataset churn: {root} does not look like a generated dataset")
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
    for d in touched_dirs:
        os.utime(d, (CHURN_MTIME + 86400,) * 2)
    if not quiet:
        print(f"gen-dataset churn: modified {len(mod)}, deleted {len(dele)}, added {n_add} "
              f"small files; appended {app / KiB:.0f} KiB to big/app.log")


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
    ap.add_argument("--scale", type=float, default=1.0, help="multiply counts/sizes (default 1.0 = ~1.5 GB)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    if not a.scale > 0:
        ap.error("--scale must be > 0")
    generate(a.dir, a.scale, a.seed, a.quiet)


if __name__ == "__main__":
    main(sys.argv[1:])
