#!/usr/bin/env python3
"""Measure this machine's single-core speeds on a benchmark dataset and the limits they imply for a
first backup and a full restore of it (the model is described in bench/README.md, "Limits").

Usage: limits.py DATASET TMPDIR [--cores N] [--out FILE.json] [--quiet]

TMPDIR (made, then emptied) holds what the measures write: a copy of the dataset (tar -x), the
compressible data compressed with zstd, a file written with fsync. Needs tar, zstd, openssl and dd.
Speeds are bytes per CPU-second of one single-threaded process (user + system time from wait4), so
other load on the machine slows them little; the fsync'ed write speed is bytes per wall-second.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

MiB = 1 << 20
UNIT = MiB  # files are cut into units of this size, compressed one by one (a chunk's size)
COMPRESSIBLE_BELOW = 0.97  # a unit counts as compressible when zstd -3 keeps less than this share of it
SPEED_BYTES = 16384  # openssl speed buffer size
SPEED_SECONDS = 2
SMALL_BATCH = 1000  # small files per `zstd -vv` process
TRIES = 3  # the fastest of this many runs counts


def measured(cmd, **popen):
    """Runs CMD (Popen keywords POPEN) to its end; (CPU seconds, wall seconds). Dies when it fails."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, **popen)
    return finish(p, cmd, t0)


def finish(p, cmd, t0):
    """Waits for P (started at monotonic T0) with wait4: its CPU time and that of the children it waited for."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"limits.py: {' '.join(cmd[:3])} … failed with exit code {p.returncode}")
    return ru.ru_utime + ru.ru_stime, time.monotonic() - t0


def dataset_files(root):
    """(relative path, size) of every regular file below ROOT, in a fixed order."""
    out = []
    for d, dn, fn in os.walk(root):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append((os.path.relpath(p, root), os.path.getsize(p)))
    return out


def unique_files(root, files):
    """FILES less exact duplicates of an earlier file (same size and SHA-256): (unique, duplicate bytes)."""
    seen = set()
    uniq, dup_bytes = [], 0
    for rel, size in files:
        with open(os.path.join(root, rel), "rb") as f:
            key = (size, hashlib.file_digest(f, "sha256").digest())
        if key in seen:
            dup_bytes += size
        else:
            seen.add(key)
            uniq.append((rel, size))
    return uniq, dup_bytes


def zstd_small(root, rels):
    """Compressed size of each file in RELS (one zstd -3 process, whose -vv output has a line per file, in
    order); {rel: size}."""
    out = subprocess.run(["zstd", "-3", "-T1", "-vv", "--no-progress", "-c", "--", *rels], cwd=root,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True).stderr.decode()
    sizes = [int(m.group(2)) for m in re.finditer(r"\(\s*(\d+) B =>\s*(\d+) B, ", out)]
    if len(sizes) != len(rels):
        sys.exit(f"limits.py: zstd -vv printed {len(sizes)} sizes for {len(rels)} files")
    return dict(zip(rels, sizes))


def zstd_block(data):
    return len(subprocess.run(["zstd", "-3", "-T1", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout)


def units(root, uniq, cores):
    """Cuts the unique files into units (a file below UNIT whole, larger ones in UNIT pieces) and
    compresses each alone with zstd -3; [(rel, offset, length, compressed length)] in file order."""
    small = [rel for rel, size in uniq if size < UNIT]
    out = {}
    with concurrent.futures.ThreadPoolExecutor(cores) as pool:
        for sizes in pool.map(lambda b: zstd_small(root, b),
                              [small[i:i + SMALL_BATCH] for i in range(0, len(small), SMALL_BATCH)]):
            out.update({(rel, 0): c for rel, c in sizes.items()})
        for rel, size in uniq:
            if size < UNIT:
                continue
            with open(os.path.join(root, rel), "rb") as f:
                blocks = [(off, f.read(UNIT)) for off in range(0, size, UNIT)]
            for (off, _), c in zip(blocks, pool.map(zstd_block, [b for _, b in blocks])):
                out[(rel, off)] = c
    result = []
    for rel, size in uniq:
        for off in range(0, size, UNIT) if size >= UNIT else [0]:
            n = min(UNIT, size - off)
            result.append((rel, off, n, out[(rel, off)]))
    return result


def feed(root, pieces, pipe):
    """Writes the byte ranges PIECES of files below ROOT into PIPE, then closes it (a thread's work)."""
    try:
        for rel, off, n in pieces:
            with open(os.path.join(root, rel), "rb") as f:
                f.seek(off)
                pipe.write(f.read(n))
    except BrokenPipeError:
        pass
    finally:
        pipe.close()


def fastest(measure):
    """The highest of TRIES results of MEASURE() (a speed, or a tuple of speeds compared one by one)."""
    runs = [measure() for _ in range(TRIES)]
    if isinstance(runs[0], tuple):
        return tuple(None if None in col else max(col) for col in zip(*runs))
    return None if None in runs else max(runs)


def zstd_speeds(root, pieces, tmp):
    """zstd -3 -T1 over the compressible PIECES as one stream, then zstd -d of the result:
    (compress input bytes/CPU-s, decompress output bytes/CPU-s), None without data."""
    total = sum(n for _, _, n in pieces)
    if total == 0:
        return None, None
    zfile = os.path.join(tmp, "compressible.zst")
    with open(zfile, "wb") as out:
        t0 = time.monotonic()
        cmd = ["zstd", "-3", "-T1", "-c"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out)
        writer = threading.Thread(target=feed, args=(root, pieces, p.stdin))
        writer.start()
        cpu_c, _ = finish(p, cmd, t0)
        writer.join()
    cpu_d, _ = measured(["zstd", "-d", "-c", zfile], stdout=subprocess.DEVNULL)
    os.remove(zfile)
    return total / cpu_c, total / cpu_d


def tar_copy(root, tmp, nbytes):
    """After a sync, tar -c of ROOT (NBYTES of files) into a pipe to tar -x into a new folder in TMP, left there (files created
    right after others were deleted cost more: bench/README.md, caveats): (tar -c, tar -x) in bytes/CPU-s."""
    dest = os.path.join(tmp, f"copy-{len(os.listdir(tmp))}")
    os.mkdir(dest)
    os.sync()
    t0 = time.monotonic()
    c_cmd, x_cmd = ["tar", "-C", root, "-cf", "-", "."], ["tar", "-C", dest, "-xf", "-"]
    c = subprocess.Popen(c_cmd, stdout=subprocess.PIPE)
    x = subprocess.Popen(x_cmd, stdin=c.stdout)
    c.stdout.close()
    cpu_c, _ = finish(c, c_cmd, t0)
    cpu_x, _ = finish(x, x_cmd, t0)
    return nbytes / cpu_c, nbytes / cpu_x


def cat_speed(root, rels, nbytes):
    """Bytes per CPU-second of `xargs -0 cat` over RELS (NBYTES in all); None without files."""
    if not rels:
        return None
    t0 = time.monotonic()
    cmd = ["xargs", "-0", "cat", "--"]
    p = subprocess.Popen(cmd, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    p.stdin.write(b"\0".join(r.encode() for r in rels))
    p.stdin.close()
    cpu, _ = finish(p, cmd, t0)
    return nbytes / cpu


def openssl_speed(alg):
    """Bytes per CPU-second of `openssl speed -evp ALG` on SPEED_BYTES buffers."""
    out = subprocess.run(["openssl", "speed", "-evp", alg, "-bytes", str(SPEED_BYTES), "-seconds",
                          str(SPEED_SECONDS), "-mr"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         check=True).stdout.decode()
    m = re.search(r"^\+F:\d+:[^:]+:([\d.]+)", out, re.M)
    if not m:
        sys.exit(f"limits.py: no result in the output of openssl speed -evp {alg}")
    return float(m.group(1))


def fsync_speed(tmp, nbytes):
    """Bytes per wall-second of dd writing NBYTES (whole MiB) to a new file in TMP with conv=fsync. The file
    is left there: on this kind of VM, rewriting blocks freed a moment ago is several times faster than
    writing fresh ones, which a repository being filled does not get."""
    count = max(1, nbytes // MiB)
    path = os.path.join(tmp, f"fsync-{len(os.listdir(tmp))}.bin")
    os.sync()
    _, wall = measured(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={count}", "conv=fsync",
                        "status=none"])
    return count * MiB / wall


def model(ds, sp, cores):
    """The first-backup and restore limits from dataset numbers DS and speeds SP (see bench/README.md)."""
    def sec(nbytes, speed):
        return 0.0 if nbytes == 0 else nbytes / sp[speed]

    b = {"read files": sec(ds["bytes"], "read_files"),
         "SHA-256 of every byte": sec(ds["bytes"], "sha256"),
         "zstd -3 of the compressible units": sec(ds["compressible_bytes"], "zstd3_compress"),
         "AES-256-GCM of the stored bytes": sec(ds["stored_bytes"], "aes256gcm")}
    r = {"read the stored bytes": sec(ds["stored_bytes"], "read_large_files"),
         "AES-256-GCM open of the stored bytes": sec(ds["stored_bytes"], "aes256gcm"),
         "zstd -d of the compressible units": sec(ds["compressible_bytes"], "zstd_decompress"),
         "SHA-256 of the unique bytes": sec(ds["unique_bytes"], "sha256"),
         "write files": sec(ds["bytes"], "write_files")}
    out = {}
    for name, stages, disk in (("backup-first", b, sec(ds["stored_bytes"], "fsync_write")), ("restore", r, None)):
        cpu = sum(stages.values())
        limit = max(cpu / cores, disk or 0.0)
        out[name] = {"cpu_s": {k: round(v, 3) for k, v in stages.items()}, "cpu_total_s": round(cpu, 3),
                     "cpu_on_cores_s": round(cpu / cores, 3), "disk_s": None if disk is None else round(disk, 3),
                     "limit_s": round(limit, 3),
                     "bound": "cpu" if disk is None or cpu / cores >= disk else "fsync'ed writes"}
    return out


def measure(root, tmp, cores, say):
    files = dataset_files(root)
    total = sum(s for _, s in files)
    say(f"dataset {root}: {len(files)} files, {total / MiB:.1f} MiB")
    uniq, dup_bytes = unique_files(root, files)
    us = units(root, uniq, cores)
    comp = [(rel, off, n) for rel, off, n, c in us if c < COMPRESSIBLE_BELOW * n]
    c_raw = sum(n for _, _, n in comp)
    c_z = sum(c for _, _, n, c in us if c < COMPRESSIBLE_BELOW * n)
    incompressible = sum(n for _, _, n, c in us if c >= COMPRESSIBLE_BELOW * n)
    ds = {"path": root, "files": len(files), "bytes": total, "duplicate_files": len(files) - len(uniq),
          "duplicate_bytes": dup_bytes, "unique_bytes": total - dup_bytes, "unit_bytes": UNIT,
          "compressible_below": COMPRESSIBLE_BELOW, "units": len(us), "compressible_units": len(comp),
          "compressible_bytes": c_raw, "compressed_bytes": c_z, "incompressible_bytes": incompressible,
          "stored_bytes": c_z + incompressible}
    say(f"  {ds['duplicate_files']} duplicate files ({dup_bytes / MiB:.1f} MiB); {len(comp)} of {len(us)} units "
        f"compressible ({c_raw / MiB:.1f} MiB -> {c_z / MiB:.1f} MiB with zstd -3); stored ~{ds['stored_bytes'] / MiB:.1f} MiB")

    sp, how = {}, {}
    sp["read_files"], sp["write_files"] = fastest(lambda: tar_copy(root, tmp, total))
    how["read_files"] = "tar -c of the dataset into a pipe (per-file costs included)"
    how["write_files"] = "tar -x of that pipe into new files in a new folder (page cache, no fsync)"
    large = [rel for rel, s in files if s >= UNIT]
    sp["read_large_files"] = fastest(lambda: cat_speed(root, large, sum(s for _, s in files if s >= UNIT)))
    sp["read_large_files"] = sp["read_large_files"] or sp["read_files"]
    how["read_large_files"] = "xargs cat > /dev/null of the files of 1 MiB or more (reading packs)"
    sp["sha256"] = fastest(lambda: openssl_speed("sha256"))
    how["sha256"] = f"openssl speed -evp sha256 -bytes {SPEED_BYTES}"
    sp["aes256gcm"] = fastest(lambda: openssl_speed("aes-256-gcm"))
    how["aes256gcm"] = f"openssl speed -evp aes-256-gcm -bytes {SPEED_BYTES}"
    zc, zd = fastest(lambda: zstd_speeds(root, comp, tmp))
    sp["zstd3_compress"], sp["zstd_decompress"] = zc, zd
    how["zstd3_compress"] = "zstd -3 -T1 of the compressible units as one stream (input bytes)"
    how["zstd_decompress"] = "zstd -d of that stream (output bytes)"
    fs_bytes = min(max(ds["stored_bytes"], 128 * MiB), 512 * MiB)
    sp["fsync_write"] = fastest(lambda: fsync_speed(tmp, fs_bytes))
    how["fsync_write"] = (f"dd bs=1M count={fs_bytes // MiB} conv=fsync to a new file in the work folder, each "
                          f"try's file kept until the end (wall time)")
    how["tries"] = f"the fastest of {TRIES} runs; the copies and fsync'ed files are deleted at the end"
    return {"measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": cores, "dataset": ds,
            "speeds_bytes_per_s": {k: (None if v is None else round(v)) for k, v in sp.items()},
            "how": how, "limits": model(ds, sp, cores)}


def summary(res):
    """The human-readable lines of a result."""
    sp = res["speeds_bytes_per_s"]

    def mbs(k):
        return "n/a" if sp.get(k) is None else f"{sp[k] / 1e6:.0f} MB/s"

    lines = [f"machine limits (per core, {res['cores']} cores): read files {mbs('read_files')}, write files "
             f"{mbs('write_files')}, read large files {mbs('read_large_files')}, SHA-256 {mbs('sha256')}, "
             f"AES-256-GCM {mbs('aes256gcm')}, zstd -3 {mbs('zstd3_compress')}, zstd -d {mbs('zstd_decompress')}; "
             f"fsync'ed writes {mbs('fsync_write')}"]
    for name, m in res["limits"].items():
        stages = ", ".join(f"{k} {v:.2f}" for k, v in m["cpu_s"].items())
        disk = "" if m["disk_s"] is None else f", fsync'ed writes {m['disk_s']:.2f} s"
        lines.append(f"{name} limit {m['limit_s']:.2f} s ({m['bound']}): CPU {m['cpu_total_s']:.2f} s / "
                     f"{res['cores']} cores = {m['cpu_on_cores_s']:.2f} s{disk}; CPU s: {stages}")
    return lines


def main(argv):
    ap = argparse.ArgumentParser(prog="limits.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("tmpdir")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--out", help="write the results as JSON to this file")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    for tool in ("tar", "zstd", "openssl", "dd", "xargs"):
        if not shutil.which(tool):
            sys.exit(f"limits.py: {tool} is needed (apt-get install tar zstd openssl coreutils findutils)")
    if not os.path.isdir(a.dataset):
        sys.exit(f"limits.py: {a.dataset} is not a folder")
    say = (lambda s: None) if a.quiet else (lambda s: print(s, flush=True))
    shutil.rmtree(a.tmpdir, ignore_errors=True)
    os.makedirs(a.tmpdir)
    try:
        res = measure(os.path.abspath(a.dataset), a.tmpdir, a.cores, say)
    finally:
        shutil.rmtree(a.tmpdir, ignore_errors=True)
    for line in summary(res):
        say(line)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
