"""Pieces shared by the real-application harnesses (scripts/realapp/*_site.py): commands, ports,
packages, ownership, the ledger of items written and the items themselves. Stdlib only."""
import grp
import json
import os
import pwd
import random
import socket
import subprocess
import sys
import time


def install_packages(pkgs, log):
    """apt-get install -y --no-install-recommends of the packages not installed yet (quiet)."""
    missing = [p for p in pkgs if not installed(p)]
    if not missing:
        return
    log("installing", " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        # The package lists may be missing (fresh container): update once and retry.
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(r.stdout[-3000:], file=sys.stderr)
        raise SystemExit("apt-get install failed")


def classify(bad):
    """Kinds of difference found by a verify: an item wholly absent is simply not in the snapshot;
    a file whose description (database row, metadata) is back but whose bytes are not, or the
    reverse, means parts of the site were taken at different times."""
    cats = {"page missing": 0, "page differs": 0, "file missing": 0, "file row without bytes": 0,
            "file bytes differ": 0, "error": 0}
    for b in bad:
        if b.startswith("page") and b.endswith(": missing"):
            cats["page missing"] += 1
        elif b.startswith("page") and "content differs" in b:
            cats["page differs"] += 1
        elif b.startswith("file") and "no such file page" in b:
            cats["file missing"] += 1
        elif b.startswith("file") and ("HTTP 404" in b or "no image info" in b):
            cats["file row without bytes"] += 1
        elif b.startswith("file") and "differ" in b:
            cats["file bytes differ"] += 1
        else:
            cats["error"] += 1
    return cats


def report(ledger_path, ledger, ok, bad, d, check_owners):
    """Prints the verify report; returns the exit status (1 on any difference)."""
    owner_bad = []
    if check_owners and "owners" in ledger:
        now = owners_snapshot(d, ledger.get("owner_tops"))
        for p, want in sorted(ledger["owners"].items()):
            got = now.get(p)
            if got is None:
                owner_bad.append(f"{p}: missing (was {want[0]}:{want[1]} {want[2]})")
            elif got != want:
                owner_bad.append(f"{p}: {got[0]}:{got[1]} {got[2]}, was {want[0]}:{want[1]} {want[2]}")
    n = len(ledger["items"])
    print(f"verify {ledger_path}: {ok}/{n} items identical through HTTP")
    if bad:
        print("differences: " + ", ".join(f"{k} {v}" for k, v in classify(bad).items() if v))
    for b in bad[:40]:
        print("  DIFF", b)
    if len(bad) > 40:
        print(f"  … and {len(bad) - 40} more")
    if owner_bad:
        print(f"owners/modes: {len(owner_bad)} of {len(ledger.get('owners', {}))} entries differ from before the backup")
        for b in owner_bad[:25]:
            print("  OWNER", b)
        if len(owner_bad) > 25:
            print(f"  … and {len(owner_bad) - 25} more")
    elif "owners" in ledger and check_owners:
        print(f"owners/modes: all {len(ledger['owners'])} entries as before the backup")
    return 1 if bad or owner_bad else 0


SIZES = [1500, 40_000, 310_000, 1_200_000, 7, 95_000]


def run(cmd, check=True, quiet=False, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}")
    return r


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def chown_tree(path, user, group=None):
    uid = pwd.getpwnam(user).pw_uid
    gid = grp.getgrnam(group or user).gr_gid
    for root, dirs, files in os.walk(path):
        os.lchown(root, uid, gid)
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)


def owners_snapshot(d, tops=None):
    """Owner, group and mode of every file and folder of the application (paths relative to DIR)."""
    out = {}
    for top in tops or ("etc", "data", "app"):
        for root, dirs, files in os.walk(os.path.join(d, top)):
            for n in [""] + dirs + files:
                p = os.path.join(root, n) if n else root
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                out[os.path.relpath(p, d)] = [st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)]
    return out


def ledger_write(path, entries, d=None, tops=None, skip=()):
    """The ledger: what the application acknowledged, and (with d) the owners and modes of its files
    at that time, except paths starting with one of `skip` (caches, locks)."""
    data = {"items": entries, "written_at": time.time()}
    if d:
        data["owners"] = {p: v for p, v in owners_snapshot(d, tops).items() if not p.startswith(tuple(skip))}
        data["owner_tops"] = list(tops or ("etc", "data", "app"))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def make_items(prefix, n, seed):
    """n items: a page each; every third one also uploads a binary file (sizes vary)."""
    rng = random.Random(seed)
    words = ["backup", "restore", "zürich", "ñandú", "日本語", "site", "vault", "drill", "snapshot", "ledger"]
    items = []
    for i in range(n):
        title = f"{prefix} page {i:03d}"
        lines = [f"== {title} ==", ""]
        for _ in range(rng.randint(3, 40)):
            lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(4, 18))) + f" {rng.getrandbits(64):x}.")
        item = {"kind": "page", "title": title, "text": "\n".join(lines)}
        items.append(item)
        if i % 3 == 0:
            size = SIZES[(i // 3) % len(SIZES)]
            name = f"{prefix.replace(' ', '_')}_file_{i:03d}.bin"
            item["text"] += f"\n\n[[Media:{name}]]"
            items.append({"kind": "file", "name": name, "size": size,
                          "content": rng.getrandbits(8 * size).to_bytes(size, "little")})
    return items
