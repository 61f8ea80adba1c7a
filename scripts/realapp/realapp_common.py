"""Pieces shared by the real-application harnesses (scripts/realapp/*_site.py): commands, ports,
packages, ownership, the ledger of items written and the items themselves. Stdlib only."""
import argparse
import grp
import hashlib
import json
import os
import pwd
import random
import socket
import subprocess
import sys
import time
import uuid


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


def package_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip()


def init_repository(d):
    """A fresh password in DIR/backup/password and, unless one is there already, a repository in
    DIR/backup/repo made by the sitevault binary under test ($SITEVAULT, else PATH)."""
    sv = os.environ.get("SITEVAULT", "sitevault")
    with open(f"{d}/backup/password", "w") as f:
        f.write(uuid.uuid4().hex + "\n")
    os.chmod(f"{d}/backup/password", 0o600)
    if not os.path.exists(f"{d}/backup/repo"):
        run([sv, "init", "--repo", f"{d}/backup/repo", "--password-file", f"{d}/backup/password", "--quiet"])


def pid_alive(pid_file):
    """The pid in pid_file when that process exists, else None."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def kill_pid(pid):
    """SIGKILL (and SIGCONT, should it be stopped by a writer), then up to 5 s for it to be gone or
    a zombie (start-stop-daemon detached it: init reaps it)."""
    if not pid:
        return
    for sig in (9, 18):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            break
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)


def verify_items(wiki, items, file_problem):
    """Reads every ledger item back through the wiki: (number identical, differences). Pages are
    compared here; file_problem(entry, content, where) says what is wrong with a file (None: ok)."""
    ok, bad = 0, []
    for e in items:
        try:
            if e["kind"] == "page":
                text = wiki.page_text(e["title"])
                if text is None:
                    bad.append(f"page {e['title']!r}: missing")
                elif hashlib.sha256(text.encode()).hexdigest() != e["sha256"]:
                    bad.append(f"page {e['title']!r}: content differs ({len(text)} chars)")
                else:
                    ok += 1
            else:
                content, where = wiki.file_bytes(e["name"])
                problem = file_problem(e, content, where)
                if problem:
                    bad.append(problem)
                else:
                    ok += 1
        except Exception as ex:  # noqa: BLE001
            bad.append(f"{e['kind']} {e.get('title') or e.get('name')}: {ex}")
    return ok, bad


def write_check(write, open_wiki, file_word):
    """After a recovery: one new item (an edit and an upload) written with write(items) -> entries
    and read back through open_wiki(); prints the outcome, returns the exit status."""
    try:
        entries = write(make_items("Post recovery " + uuid.uuid4().hex[:6], 1, 7))
        w = open_wiki()
        for e in entries:
            if e["kind"] == "page":
                t = w.page_text(e["title"])
                assert t is not None and hashlib.sha256(t.encode()).hexdigest() == e["sha256"], "page read back differs"
            else:
                c, where = w.file_bytes(e["name"])
                assert c is not None and hashlib.sha256(c).hexdigest() == e["sha256"], \
                    f"{file_word} read back differs: {where}"
    except Exception as ex:  # noqa: BLE001
        print(f"write-check: FAILED: {ex}")
        return 1
    print(f"write-check: an edit and an upload after recovery work ({len(entries)} items)")
    return 0


def main(doc, all_new_keys, commands, setup_options=None):
    """The drivers' command line: the same subcommands for every application (commands maps each
    name to its function); setup_options(parser) adds the application's own setup options."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="cmd", required=True)
    sp.add_parser("install")
    p = sp.add_parser("setup"); p.add_argument("dir")
    if setup_options:
        setup_options(p)
    p.add_argument("--new-keys", nargs="?", const=all_new_keys, default="",
                   help=f"emit the new control-file keys: a comma-separated subset of {all_new_keys} (all when no list)")
    for c in ("start", "stop", "destroy", "write-check"):
        sp.add_parser(c).add_argument("dir")
    p = sp.add_parser("status"); p.add_argument("dir")
    p.add_argument("--wait", type=float, default=0, help="seconds to wait for HTTP 200")
    p = sp.add_parser("teardown"); p.add_argument("dir"); p.add_argument("--keep", action="store_true")
    p = sp.add_parser("damage"); p.add_argument("dir"); p.add_argument("ledger")
    p = sp.add_parser("write"); p.add_argument("dir"); p.add_argument("n", type=int); p.add_argument("ledger")
    p.add_argument("--prefix", default="Before backup"); p.add_argument("--seed", type=int, default=1)
    p = sp.add_parser("write-loop"); p.add_argument("dir"); p.add_argument("ledger")
    p.add_argument("--stop-file", required=True); p.add_argument("--prefix", default="During backup")
    p.add_argument("--seed", type=int, default=1000)
    p = sp.add_parser("verify"); p.add_argument("dir"); p.add_argument("ledger")
    p.add_argument("--no-owners", action="store_true")
    a = ap.parse_args()
    sys.exit(commands[a.cmd](a))
