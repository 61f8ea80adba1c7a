"""What the benchmark's dataset profiles share (gen-dataset.py, site_dataset.py): seeded random
generators, pseudo-English / log / config / code text, compressible record streams, writing files and
folders with fixed modes and mtimes. Standard library only; every byte comes from a seeded
random.Random, so the output is the same on every machine."""

import itertools
import os
import random
import time

DEFAULT_SEED = 20240601
BASE_MTIME = 1704067200  # 2024-01-01T00:00:00Z
CHURN_MTIME = BASE_MTIME + 200 * 86400
KiB = 1 << 10
MiB = 1 << 20
BLOCK = 4 * MiB


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
CSS_PROPS = ["margin", "padding", "width", "height", "top", "left", "font-size", "line-height", "border-width"]


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

    def code(self, nbytes, kind):
        """Source-like text: php/js functions or css rules built from the vocabulary."""
        r = self.rng
        out = ["<?php\n\n" if kind == "php" else ""]
        size = len(out[0])
        while size < nbytes:
            name = "_".join(self.words(r.randint(1, 3)))
            if kind == "css":
                props = "".join(f"  {r.choice(CSS_PROPS)}: {r.randint(0, 64)}px;\n" for _ in range(r.randint(1, 6)))
                s = f".{name.replace('_', '-')} {{\n{props}}}\n\n"
            else:
                args = ", ".join(("$" if kind == "php" else "") + w for w in self.words(r.randint(0, 3)))
                body = []
                for _ in range(r.randint(1, 8)):
                    v = ("$" if kind == "php" else "") + self.word()
                    body.append(r.choice([
                        f"    if ({v} === null) {{ return false; }}\n",
                        f"    {v} = '{' '.join(self.words(r.randint(1, 5)))}';\n",
                        f"    // {' '.join(self.words(r.randint(3, 10)))}\n",
                        f"    {v} = {self.word()}_{self.word()}({v}, {r.randint(0, 100)});\n",
                    ]))
                s = f"function {name}({args}) {{\n{''.join(body)}    return {r.randint(0, 9)};\n}}\n\n"
            out.append(s)
            size += len(s)
        return "".join(out)[:max(nbytes, 1)]


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


class Tree:
    """Folders made below ROOT, given their fixed mtimes (and mode 0755) by finish(), after every file is
    written (creating entries bumps a folder's mtime)."""

    def __init__(self, root):
        self.root = root
        self.made = []

    def mkdir(self, rel, mtime):
        """REL and every missing folder above it; the new ones get MTIME in finish()."""
        parts = rel.split("/")
        for k in range(1, len(parts) + 1):
            sub = "/".join(parts[:k])
            if not os.path.isdir(os.path.join(self.root, sub)):
                os.mkdir(os.path.join(self.root, sub))
                self.made.append((sub, mtime))

    def month_dir(self, top, mtime):
        """TOP/YYYY/MM for MTIME (as uploads are filed), made when missing."""
        d = time.strftime(f"{top}/%Y/%m", time.gmtime(mtime))
        if not os.path.isdir(os.path.join(self.root, d)):
            self.mkdir(d, BASE_MTIME + 180 * 86400)
        return d

    def finish(self):
        for rel, mtime in self.made:
            os.chmod(os.path.join(self.root, rel), 0o755)
            os.utime(os.path.join(self.root, rel), (mtime, mtime))
        os.chmod(self.root, 0o755)
        os.utime(self.root, (BASE_MTIME + 180 * 86400,) * 2)


def random_dirs(tree, rng, text, top, n):
    """A random nested tree of N folders below TOP (TOP included), made in TREE; their relative paths."""
    dirs = [top]
    names = {top: set()}
    for _ in range(n - 1):
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
        tree.mkdir(d, BASE_MTIME + rng.randrange(180 * 86400))
    return dirs
