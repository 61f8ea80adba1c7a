#!/usr/bin/env python3
"""MediaWiki (Debian's `mediawiki` package) as a real application for sitevault's end-to-end
recovery tests. Stdlib only.

    mediawiki_site.py install
    mediawiki_site.py setup DIR [--db sqlite|postgres] [--pg-method logical|physical] [--new-keys]
    mediawiki_site.py start DIR | stop DIR | status DIR
    mediawiki_site.py write DIR N LEDGER [--prefix P] [--seed S]
    mediawiki_site.py write-loop DIR LEDGER --stop-file F      (writes until F exists)
    mediawiki_site.py verify DIR LEDGER [--no-owners]
    mediawiki_site.py write-check DIR                          (one edit + one upload now)
    mediawiki_site.py destroy DIR                              (kill the wiki, delete all it owns)
    mediawiki_site.py damage DIR LEDGER                        (wiki left running, data damaged)
    mediawiki_site.py teardown DIR

The instance under DIR (everything the application owns is inside it):
    app/        router.php, start.sh, pg-start.sh        (install-media component "media")
    etc/        LocalSettings.php  root:www-data 0640     (config component "config")
    data/       www-data: db/*.sqlite (SQLite variant), images/ (uploads)
                (folders component "data", excluding the SQLite files, which are `database`
                 components of their own: nested components)
    run/        pid file and server log (not backed up)
    pg/         the PostgreSQL cluster (postgres variant; run as the postgres user)
    backup/     repository and its password
    state/      sitevault's state folder
    harness/    instance.json, ledgers, logs (the harness's own files, never destroyed)
    site.toml   the control file

The web server is PHP's built-in server (`php -S`) on a free 127.0.0.1 port, run as www-data by
start-stop-daemon, with its pid in run/mediawiki.pid (the `signal` writer's pid file).
"""
import hashlib
import http.cookiejar
import json
import os
import grp
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realapp_common import (SIZES, chown_tree, free_port, init_repository, install_packages,  # noqa: E402
                            installed, kill_pid, ledger_write, main, make_items, owners_snapshot,
                            package_version, pid_alive, report, run, verify_items, write_check)

MW = "/usr/share/mediawiki"
USER = "www-data"
ADMIN = "Admin"
PACKAGES_COMMON = ["mediawiki", "php-cli", "php-sqlite3", "php-intl", "php-mbstring", "php-xml",
                   "curl", "sqlite3"]
PACKAGES_PG = ["php-pgsql", "postgresql"]
ALL_NEW_KEYS = "start,probe,consistency,drill"


def log(*a):
    print("[mediawiki]", *a, file=sys.stderr, flush=True)


def pg_bin():
    cands = sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int) \
        if os.path.isdir("/usr/lib/postgresql") else []
    if not cands:
        raise SystemExit("PostgreSQL server binaries not found")
    return f"/usr/lib/postgresql/{cands[-1]}/bin"


# ---------------------------------------------------------------------------------------- install

def cmd_install(args):
    install_packages(PACKAGES_COMMON + PACKAGES_PG, log)
    return 0


def version():
    return package_version("mediawiki")


# ------------------------------------------------------------------------------------------ setup

def inst_path(d):
    return os.path.join(d, "harness", "instance.json")


def load(d):
    with open(inst_path(d)) as f:
        return json.load(f)


ROUTER = r"""<?php
// php -S router: uploads are served from the instance's data folder, everything else from
// MediaWiki's installation (return false = the built-in server serves the requested file).
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (strncmp($path, '/images/', 8) === 0) {
    $rel = rawurldecode(substr($path, 8));
    $file = '@IMAGES@/' . $rel;
    if (strpos($rel, '..') !== false || !is_file($file)) { http_response_code(404); echo "not found\n"; return true; }
    header('Content-Type: application/octet-stream');
    header('Content-Length: ' . filesize($file));
    readfile($file);
    return true;
}
if ($path === '/' ) { $_SERVER['SCRIPT_NAME'] = '/index.php'; require '@MW@/index.php'; return true; }
return false;
"""

START_SH = r"""#!/bin/sh
# Starts the wiki (php -S as www-data) unless it runs already; waits until it answers.
set -eu
DIR='@DIR@'; PORT='@PORT@'
PID="$DIR/run/mediawiki.pid"
if [ -s "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; then
  kill -CONT "$(cat "$PID")" 2>/dev/null || true
  exit 0
fi
mkdir -p "$DIR/run"; chown www-data:www-data "$DIR/run"
start-stop-daemon --start --background --make-pidfile --pidfile "$PID" --chuid www-data:www-data \
  --chdir @MW@ --output "$DIR/run/server.log" \
  --exec /usr/bin/env -- MW_CONFIG_FILE="$DIR/etc/LocalSettings.php" /usr/bin/php \
  -d upload_max_filesize=64M -d post_max_size=64M -d memory_limit=512M -d display_errors=stderr \
  -S "127.0.0.1:$PORT" -t @MW@ "$DIR/app/router.php"
i=0
while [ $i -lt 150 ]; do
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api.php?action=query&meta=siteinfo&format=json" 2>/dev/null; then exit 0; fi
  i=$((i+1)); sleep 0.2
done
echo "wiki did not answer on port $PORT" >&2
exit 1
"""

PG_START_SH = r"""#!/bin/sh
# Starts the wiki's PostgreSQL cluster (as postgres) unless it runs already.
set -eu
DIR='@DIR@'; PORT='@PGPORT@'; BIN='@BIN@'
if runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; then exit 0; fi
runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w -t 60 -o "-p $PORT" start >/dev/null
"""


def pg_psql(d, sql, db="postgres", check=True):
    i = load(d)
    return run(["runuser", "-u", "postgres", "--", f"{i['pg_bin']}/psql", "-h", f"{d}/pg/socket",
                "-p", str(i["pg_port"]), "-U", "postgres", "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1",
                "-c", sql], check=check)


def setup_pg(d, info):
    b = pg_bin()
    pgd = os.path.join(d, "pg")
    os.makedirs(pgd, exist_ok=True)
    shutil.chown(pgd, "postgres", "postgres")
    os.chmod(pgd, 0o700)
    pw = uuid.uuid4().hex
    with open(f"{pgd}/password", "w") as f:
        f.write(pw + "\n")
    os.chmod(f"{pgd}/password", 0o600)
    shutil.chown(f"{pgd}/password", "postgres", "postgres")
    run(["runuser", "-u", "postgres", "--", f"{b}/initdb", "-D", f"{pgd}/data", "--auth-local=trust",
         "--auth-host=scram-sha-256", "-U", "postgres", f"--pwfile={pgd}/password", "-E", "UTF8",
         "--locale=C.UTF-8"])
    os.makedirs(f"{pgd}/socket", exist_ok=True)
    shutil.chown(f"{pgd}/socket", "postgres", "postgres")
    with open(f"{pgd}/data/postgresql.conf", "a") as f:
        f.write(f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{pgd}/socket'\n"
                "wal_level = replica\nmax_wal_senders = 4\nshared_buffers = 64MB\nfsync = on\n")
    info.update(pg_bin=b, pg_port=free_port(), pg_password=pw, db_password=uuid.uuid4().hex)


def cmd_setup(args):
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    for sub in ("app", "etc", "data/images", "run", "backup", "state", "harness"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    info = {"dir": d, "db": args.db, "pg_method": args.pg_method, "port": free_port(), "drill_port": free_port(),
            "admin_password": "Adm1n-" + uuid.uuid4().hex, "version": version(), "new_keys": args.new_keys}
    if args.db == "sqlite":
        os.makedirs(f"{d}/data/db", exist_ok=True)
    chown_tree(f"{d}/data", USER)
    chown_tree(f"{d}/run", USER)
    if args.db == "postgres":
        setup_pg(d, info)
    with open(inst_path(d), "w") as f:
        json.dump(info, f, indent=1)
    subst = {"@DIR@": d, "@PORT@": str(info["port"]), "@MW@": MW, "@IMAGES@": f"{d}/data/images",
             "@PGPORT@": str(info.get("pg_port", "")), "@BIN@": info.get("pg_bin", "")}

    def write_script(name, text, mode):
        for k, v in subst.items():
            text = text.replace(k, v)
        p = f"{d}/app/{name}"
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)

    write_script("router.php", ROUTER, 0o644)
    write_script("start.sh", START_SH, 0o755)
    if args.db == "postgres":
        write_script("pg-start.sh", PG_START_SH, 0o755)
        run([f"{d}/app/pg-start.sh"])
        pg_psql(d, f"CREATE ROLE wikiuser LOGIN PASSWORD '{info['db_password']}'")
        pg_psql(d, "CREATE DATABASE wikidb OWNER wikiuser TEMPLATE template0 ENCODING 'UTF8'")

    # MediaWiki's installer, as www-data, writing LocalSettings.php into a folder it owns.
    conf_tmp = f"{d}/run/conf"
    os.makedirs(conf_tmp, exist_ok=True)
    shutil.chown(conf_tmp, USER, USER)
    cmd = ["runuser", "-u", USER, "--", "env", f"MW_CONFIG_FILE={d}/etc/LocalSettings.php", "php",
           f"{MW}/maintenance/install.php", "--confpath", conf_tmp, "--server", f"http://127.0.0.1:{info['port']}",
           "--scriptpath", "", "--pass", info["admin_password"], "--skins", "Vector", "--quiet"]
    if args.db == "sqlite":
        cmd += ["--dbtype", "sqlite", "--dbpath", f"{d}/data/db", "--dbname", "wikidb"]
    else:
        cmd += ["--dbtype", "postgres", "--dbserver", "127.0.0.1", "--dbport", str(info["pg_port"]),
                "--dbname", "wikidb", "--dbuser", "wikiuser", "--dbpass", info["db_password"],
                "--installdbuser", "wikiuser", "--installdbpass", info["db_password"]]
    cmd += ["RealAppWiki", ADMIN]
    r = run(cmd, check=False)
    if r.returncode != 0 or not os.path.exists(f"{conf_tmp}/LocalSettings.php"):
        raise SystemExit("MediaWiki install.php failed:\n" + r.stdout[-4000:])
    with open(f"{conf_tmp}/LocalSettings.php") as f:
        ls = f.read()
    ls += f"""
# --- sitevault real-application test instance ---
$wgEnableUploads = true;
$wgUploadDirectory = "{d}/data/images";
$wgUploadPath = "/images";
$wgFileExtensions[] = 'bin';
$wgStrictFileExtensions = false;
$wgCheckFileExtensions = false;
$wgVerifyMimeType = false;
$wgMaxUploadSize = 67108864;
$wgUseInstantCommons = false;
$wgCacheDirectory = false;
$wgShowExceptionDetails = true;
$wgLocaltimezone = 'UTC';
$wgJobRunRate = 0;
$wgRateLimits = [];
"""
    with open(f"{d}/etc/LocalSettings.php", "w") as f:
        f.write(ls)
    os.chown(f"{d}/etc/LocalSettings.php", 0, grp.getgrnam(USER).gr_gid)
    os.chmod(f"{d}/etc/LocalSettings.php", 0o640)
    shutil.rmtree(conf_tmp)
    chown_tree(f"{d}/data", USER)

    # Repository.
    init_repository(d)
    write_control(d, info, args.new_keys)
    run([f"{d}/app/start.sh"])
    log(f"MediaWiki {info['version']} ({args.db}) at http://127.0.0.1:{info['port']}/ pid {app_pid(d)}")
    return 0


def sqlite_files(d):
    db = f"{d}/data/db"
    return sorted(n for n in os.listdir(db) if n.endswith(".sqlite")) if os.path.isdir(db) else []


def write_control(d, info, new_keys):
    """new_keys: which of the new keys to emit (writer `start`, `[recovery] probe`, `consistency`)."""
    keys = {k.strip() for k in (new_keys or "").split(",") if k.strip()}
    unknown = keys - set(ALL_NEW_KEYS.split(","))
    if unknown:
        raise SystemExit(f"unknown new keys {sorted(unknown)} (known: {ALL_NEW_KEYS})")
    port = info["port"]
    site = f"mediawiki-{info['db']}" + ("-physical" if info["db"] == "postgres" and info["pg_method"] == "physical" else "")
    t = [f'site = "{site}"', 'time_zone = "UTC"', 'state_dir = "state"']
    if "consistency" in keys:
        t.append('consistency = "site"')
    t += ["", "[repository]", 'path = "backup/repo"', 'password_file = "backup/password"', ""]
    comps = []
    if info["db"] == "sqlite":
        for n in sqlite_files(d):
            name = "db-" + n[:-len(".sqlite")].replace("_", "-")
            comps.append(name)
            t += ["[[component]]", f'name = "{name}"', 'kind = "database"', 'engine = "sqlite"',
                  f'path = "data/db/{n}"', ""]
    else:
        t += ["[[component]]", 'name = "pg"', 'kind = "database"', 'engine = "postgresql"',
              'host = "127.0.0.1"', f'port = {info["pg_port"]}', 'user = "postgres"',
              'password_file = "pg/password"', f'bin_dir = "{info["pg_bin"]}"', 'timeout = "3m"']
        if info["pg_method"] == "physical":
            t += ['method = "physical"', 'verify_database = "wikidb"',
                  'verify_sql = "SELECT count(*) > 0 FROM mediawiki.page"']
        else:
            t += ['databases = ["wikidb"]', 'verify = "restore"',
                  'verify_sql = "SELECT count(*) > 0 FROM mediawiki.page"']
        t.append("")
    t += ["[[component]]", 'name = "config"', 'kind = "config"', 'paths = ["etc"]',
          'settings = { packages = ["dpkg-query", "-W", "mediawiki", "php8.2-cli"] }', "",
          "[[component]]", 'name = "data"', 'kind = "folders"', 'paths = ["data"]',
          'exclude = ["*.sqlite", "*.sqlite-*"]', "",
          "[[component]]", 'name = "media"', 'kind = "install-media"', 'paths = ["app"]',
          'version_command = ["dpkg-query", "-W", "-f=${Version}", "mediawiki"]', "",
          "[[writer]]", 'name = "wiki"', 'kind = "signal"', 'pid_file = "run/mediawiki.pid"',
          'components = ["data"]']
    if "start" in keys:
        t.append(f'start = ["{d}/app/start.sh"]')
    t.append("")
    if "start" in keys and info["db"] == "postgres":
        # The cluster has no freeze of its own (pg_dump / pg_basebackup are consistent); the
        # writer is there so that a recovery can start it again.
        t += ["[[writer]]", 'name = "pgcluster"', 'kind = "command"', 'freeze = ["true"]', 'thaw = ["true"]',
              'copy = "none"', 'components = ["pg"]', f'start = ["{d}/app/pg-start.sh"]', ""]
    if "probe" in keys:
        # probe_timeout is a duration like every other time in the file ("60s"; a bare 60 is refused).
        t += ["[recovery]", f'probe = ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:{port}/index.php?title=Main_Page"]',
              'probe_timeout = "60s"', ""]
    if "drill" in keys and info["db"] == "sqlite":
        # The drill starts the recovered wiki from its sandbox: the copy's LocalSettings.php and
        # router rewritten to the sandbox's paths (its SQLite files, its uploads) and a port of its
        # own, PHP's server in the foreground. (The PostgreSQL variants would need the scratch
        # database or the temporary cluster in LocalSettings.php: not done here.)
        dport = info["drill_port"]
        script = (f'S="$SITEVAULT_SANDBOX"; sed -i "s#{d}#$S{d}#g; s#127.0.0.1:{port}#127.0.0.1:{dport}#g" '
                  f'"$S{d}/etc/LocalSettings.php" "$S{d}/app/router.php" && cd {MW} && '
                  f'MW_CONFIG_FILE="$S{d}/etc/LocalSettings.php" exec php -d memory_limit=512M -d display_errors=stderr '
                  f'-S 127.0.0.1:{dport} -t {MW} "$S{d}/app/router.php"')
        t += ["[drill]", "start = " + json.dumps(["sh", "-c", script]),
              f'probe = ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:{dport}/index.php?title=Main_Page"]',
              'probe_timeout = "60s"', ""]
    with open(f"{d}/site.toml", "w") as f:
        f.write("\n".join(t))


# ------------------------------------------------------------------------------------ app control

def app_pid(d):
    return pid_alive(f"{d}/run/mediawiki.pid")


def cmd_start(args):
    d = os.path.abspath(args.dir)
    i = load(d)
    if i["db"] == "postgres":
        run([f"{d}/app/pg-start.sh"]) if os.path.exists(f"{d}/app/pg-start.sh") else None
    run([f"{d}/app/start.sh"])
    return 0


def kill_app(d):
    kill_pid(app_pid(d))


def cmd_stop(args):
    kill_app(os.path.abspath(args.dir))
    return 0


def http_status(port, path="/index.php?title=Main_Page"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


def cmd_status(args):
    d = os.path.abspath(args.dir)
    port = load(d)["port"]
    end = time.time() + args.wait
    s = http_status(port)
    while s != 200 and time.time() < end:
        time.sleep(0.2)
        s = http_status(port)
    print(f"HTTP {s}; pid {app_pid(d)}")
    return 0 if s == 200 else 1


# ------------------------------------------------------------------------------- the wiki's API

class Wiki:
    def __init__(self, port, timeout=60):
        self.base = f"http://127.0.0.1:{port}"
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = None

    def api(self, params, files=None, post=True):
        params = dict(params, format="json", formatversion="2")
        if files is None:
            data = urllib.parse.urlencode(params).encode() if post else None
            url = self.base + "/api.php" + ("" if post else "?" + urllib.parse.urlencode(params))
            req = urllib.request.Request(url, data=data)
        else:
            boundary = "----sv" + uuid.uuid4().hex
            body = bytearray()
            for k, v in params.items():
                body += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, (fname, content) in files.items():
                body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{fname}"\r\n'
                         f'Content-Type: application/octet-stream\r\n\r\n').encode()
                body += content + b"\r\n"
            body += f"--{boundary}--\r\n".encode()
            req = urllib.request.Request(self.base + "/api.php", data=bytes(body),
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with self.opener.open(req, timeout=self.timeout) as r:
            out = json.loads(r.read().decode())
        if "error" in out:
            raise RuntimeError(f"API error for {params.get('action')}: {out['error']}")
        return out

    def login(self, user, password):
        tok = self.api({"action": "query", "meta": "tokens", "type": "login"}, post=False)["query"]["tokens"]["logintoken"]
        r = self.api({"action": "clientlogin", "username": user, "password": password, "logintoken": tok,
                      "loginreturnurl": self.base + "/"})
        if r.get("clientlogin", {}).get("status") != "PASS":
            raise RuntimeError(f"login failed: {r}")
        self.csrf = self.api({"action": "query", "meta": "tokens"}, post=False)["query"]["tokens"]["csrftoken"]

    def edit(self, title, text):
        r = self.api({"action": "edit", "title": title, "text": text, "token": self.csrf,
                      "summary": "sitevault real-application test", "bot": "1"})
        if r["edit"].get("result") != "Success":
            raise RuntimeError(f"edit {title}: {r}")

    def upload(self, name, content):
        r = self.api({"action": "upload", "filename": name, "token": self.csrf, "ignorewarnings": "1",
                      "comment": "sitevault real-application test"}, files={"file": (name, content)})
        if r["upload"].get("result") != "Success":
            raise RuntimeError(f"upload {name}: {r}")

    def page_text(self, title):
        r = self.api({"action": "query", "prop": "revisions", "titles": title, "rvprop": "content",
                      "rvslots": "main"}, post=False)
        p = r["query"]["pages"][0]
        if p.get("missing") or "revisions" not in p:
            return None
        return p["revisions"][0]["slots"]["main"]["content"]

    def file_bytes(self, name):
        r = self.api({"action": "query", "prop": "imageinfo", "titles": "File:" + name, "iiprop": "url|size|sha1"},
                     post=False)
        p = r["query"]["pages"][0]
        if p.get("missing") and "imageinfo" not in p:
            return None, "no such file page"
        if "imageinfo" not in p:
            return None, "no image info"
        url = p["imageinfo"][0]["url"]
        if url.startswith("/"):
            url = self.base + url
        try:
            with self.opener.open(url, timeout=self.timeout) as r2:
                return r2.read(), url
        except urllib.error.HTTPError as e:
            return None, f"GET {url}: HTTP {e.code}"


# ------------------------------------------------------------------------------------ write/verify



def write_items(d, items, ledger, wiki=None, record_owners=True):
    i = load(d)
    w = wiki or Wiki(i["port"])
    if w.csrf is None:
        w.login(ADMIN, i["admin_password"])
    entries = []
    for it in items:
        if it["kind"] == "file":
            w.upload(it["name"], it["content"])
            entries.append({"kind": "file", "name": it["name"], "size": it["size"],
                            "sha256": hashlib.sha256(it["content"]).hexdigest()})
        else:
            w.edit(it["title"], it["text"])
            entries.append({"kind": "page", "title": it["title"],
                            "sha256": hashlib.sha256(it["text"].encode()).hexdigest()})
    return entries


def cmd_write(args):
    d = os.path.abspath(args.dir)
    t0 = time.time()
    # Files first in each group so that the page linking to a file finds it.
    items = make_items(args.prefix, args.n, args.seed)
    items.sort(key=lambda x: 0 if x["kind"] == "file" else 1)
    entries = write_items(d, items, args.ledger)
    ledger_write(args.ledger, entries, d, skip=("data/images/lockdir",))
    nfiles = sum(1 for e in entries if e["kind"] == "file")
    total = sum(e.get("size", 0) for e in entries)
    log(f"wrote {len(entries) - nfiles} pages and {nfiles} files ({total} bytes) in {time.time() - t0:.1f}s -> {args.ledger}")
    return 0


def cmd_write_loop(args):
    """Writes one page (and every third time a file) after another until the stop file exists;
    the ledger lists what the application acknowledged."""
    d = os.path.abspath(args.dir)
    i = load(d)
    w = Wiki(i["port"], timeout=120)
    w.login(ADMIN, i["admin_password"])
    entries, k, errors = [], 0, 0
    while not os.path.exists(args.stop_file):
        items = make_items(f"{args.prefix} {k:04d}", 1, args.seed + k)
        try:
            entries += write_items(d, items, args.ledger, wiki=w)
        except Exception as e:  # noqa: BLE001 — report and keep writing
            errors += 1
            log(f"write-loop error: {e}")
            time.sleep(0.2)
        k += 1
        ledger_write(args.ledger, entries)
    log(f"write-loop: {len(entries)} items acknowledged, {errors} errors")
    return 0


def file_problem(e, content, where):
    if content is None:
        return f"file {e['name']}: {where}"
    if hashlib.sha256(content).hexdigest() != e["sha256"]:
        return f"file {e['name']}: {len(content)} bytes differ from the {e['size']} written ({where})"
    return None


def cmd_verify(args):
    d = os.path.abspath(args.dir)
    i = load(d)
    with open(args.ledger) as f:
        ledger = json.load(f)
    ok, bad = verify_items(Wiki(i["port"]), ledger["items"], file_problem)
    return report(args.ledger, ledger, ok, bad, d, not args.no_owners)


def cmd_write_check(args):
    """After a recovery: the wiki must still accept an edit and an upload (a database restored
    read-only or owned by the wrong user fails here)."""
    d = os.path.abspath(args.dir)
    return write_check(lambda items: write_items(d, items, None), lambda: Wiki(load(d)["port"]), "file")


# ---------------------------------------------------------------------------------- destroy/teardown

def cmd_destroy(args):
    """Kills the wiki and deletes everything it owns (data folder with SQLite files and uploads,
    configuration, its scripts); PostgreSQL: the database and role (logical) or the whole
    cluster's data directory (physical)."""
    d = os.path.abspath(args.dir)
    i = load(d)
    kill_app(d)
    for sub in ("data", "etc", "app"):
        shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
    if os.path.exists(f"{d}/run/mediawiki.pid"):
        os.remove(f"{d}/run/mediawiki.pid")
    if i["db"] == "postgres":
        if i["pg_method"] == "physical":
            run(["runuser", "-u", "postgres", "--", f"{i['pg_bin']}/pg_ctl", "-D", f"{d}/pg/data", "-m",
                 "immediate", "-w", "stop"], check=False)
            shutil.rmtree(f"{d}/pg/data", ignore_errors=True)
        else:
            pg_psql(d, "DROP DATABASE IF EXISTS wikidb WITH (FORCE)")
            pg_psql(d, "DROP ROLE IF EXISTS wikiuser")
    log("destroyed: " + ", ".join(["data/", "etc/", "app/"] + (
        ["pg/data (cluster)"] if i["db"] == "postgres" and i["pg_method"] == "physical"
        else ["database wikidb + role wikiuser"] if i["db"] == "postgres" else [])))
    return 0


def cmd_damage(args):
    """The other disaster: the wiki keeps running while part of its data is lost or corrupted —
    half of the uploads deleted, the configuration changed (the wiki made read-only), and the
    database damaged: the SQLite file overwritten with garbage, or (PostgreSQL) the pages written
    before the backup deleted. A recovery has to stop the running wiki, put everything back and let
    it run again."""
    d = os.path.abspath(args.dir)
    i = load(d)
    with open(args.ledger) as f:
        files = [e["name"] for e in json.load(f)["items"] if e["kind"] == "file"]
    gone = 0
    for root, _, names in os.walk(f"{d}/data/images"):
        for n in names:
            if n in files[::2]:
                os.remove(os.path.join(root, n))
                gone += 1
    with open(f"{d}/etc/LocalSettings.php", "a") as f:
        f.write("\n$wgReadOnly = 'damaged by the sitevault real-application test';\n")
    if i["db"] == "sqlite":
        p = f"{d}/data/db/wikidb.sqlite"
        size = os.path.getsize(p)
        with open(p, "r+b") as f:
            f.write(os.urandom(size))
        what = "wikidb.sqlite overwritten with random bytes"
    else:
        r = pg_psql(d, "DELETE FROM mediawiki.page WHERE page_title LIKE 'Before_backup%'", db="wikidb")
        what = "pages written before the backup deleted from mediawiki.page"
    log(f"damaged while running: {gone} uploads deleted, LocalSettings.php made the wiki read-only, {what}")
    return 0


def cmd_teardown(args):
    d = os.path.abspath(args.dir)
    try:
        i = load(d)
    except OSError:
        i = {}
    kill_app(d)
    if i.get("db") == "postgres" and os.path.exists(f"{d}/pg/data/postmaster.pid"):
        run(["runuser", "-u", "postgres", "--", f"{i['pg_bin']}/pg_ctl", "-D", f"{d}/pg/data", "-m",
             "immediate", "-w", "stop"], check=False)
    # A physical recovery may have started a server on a copy elsewhere under DIR.
    for root, dirs, files in os.walk(d):
        if "postmaster.pid" in files and i.get("pg_bin"):
            run(["runuser", "-u", "postgres", "--", f"{i['pg_bin']}/pg_ctl", "-D", root, "-m", "immediate",
                 "-w", "stop"], check=False)
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return 0


def setup_options(p):
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--pg-method", choices=["logical", "physical"], default="logical")


if __name__ == "__main__":
    main(__doc__, ALL_NEW_KEYS, {
        "install": cmd_install, "setup": cmd_setup, "start": cmd_start, "stop": cmd_stop, "status": cmd_status,
        "write": cmd_write, "write-loop": cmd_write_loop, "verify": cmd_verify, "write-check": cmd_write_check,
        "destroy": cmd_destroy, "damage": cmd_damage, "teardown": cmd_teardown}, setup_options)
