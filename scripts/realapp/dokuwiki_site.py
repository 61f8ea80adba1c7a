#!/usr/bin/env python3
"""DokuWiki (Debian's `dokuwiki` package) as a real application for sitevault's end-to-end recovery
tests: a wiki kept entirely in files (pages, their old revisions, media, metadata). Stdlib only.

    dokuwiki_site.py install
    dokuwiki_site.py setup DIR [--new-keys [start,probe,consistency]]
    dokuwiki_site.py start DIR | stop DIR | status DIR [--wait S]
    dokuwiki_site.py write DIR N LEDGER [--prefix P] [--seed S]
    dokuwiki_site.py write-loop DIR LEDGER --stop-file F
    dokuwiki_site.py verify DIR LEDGER [--no-owners]
    dokuwiki_site.py write-check DIR
    dokuwiki_site.py destroy DIR | damage DIR LEDGER | teardown DIR [--keep]

The instance under DIR:
    app/     router.php, start.sh, stop.sh                      (install-media component "media")
    etc/     DokuWiki's configuration (DOKU_CONF), root:www-data (config component "config")
    data/    www-data: pages, attic, meta, media, media_meta, media_attic, index, cache…
             (folders component "data", cache/locks/tmp excluded)
    run/     pid file, server log;  backup/, state/, harness/, site.toml as for MediaWiki.

Written through DokuWiki's own remote API (XML-RPC, lib/exe/xmlrpc.php: wiki.putPage,
wiki.putAttachment); read back over plain HTTP (doku.php?do=export_raw, lib/exe/fetch.php).
The writer is a `service` writer whose stop and start commands stop and start the web server:
the wiki is down while its files are copied to the staging folder, and a recovery stops and
starts it the same way.
"""
import hashlib
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realapp_common import (chown_tree, free_port, init_repository, install_packages, kill_pid,  # noqa: E402
                            ledger_write, main, make_items, package_version, pid_alive, report, run,
                            verify_items, write_check)

DW = "/usr/share/dokuwiki"
USER = "www-data"
PACKAGES = ["dokuwiki", "php-cli", "php-xml", "curl"]
ALL_NEW_KEYS = "start,probe,consistency,drill"
# Paths DokuWiki changes by itself (caches, locks, search index, logs): not compared for owners.
VOLATILE = ("data/cache", "data/locks", "data/tmp", "data/index", "data/log", "data/meta/_")


def log(*a):
    print("[dokuwiki]", *a, file=sys.stderr, flush=True)


def version():
    return package_version("dokuwiki")


def load(d):
    with open(os.path.join(d, "harness", "instance.json")) as f:
        return json.load(f)


ROUTER = r"""<?php
// php -S router: DokuWiki from its Debian installation, configuration from the instance.
define('DOKU_CONF', '@DIR@/etc/');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/' || $path === '') { $path = '/doku.php'; }
if (strpos($path, '..') !== false) { http_response_code(404); return true; }
$file = '@DW@' . $path;
if (substr($path, -4) === '.php' && is_file($file)) {
    $_SERVER['SCRIPT_NAME'] = $path; $_SERVER['PHP_SELF'] = $path; $_SERVER['SCRIPT_FILENAME'] = $file;
    chdir(dirname($file));
    require $file;
    return true;
}
return false;
"""

START_SH = r"""#!/bin/sh
# Starts the wiki (php -S as www-data) unless it runs already; waits until it answers.
set -eu
DIR='@DIR@'; PORT='@PORT@'
PID="$DIR/run/dokuwiki.pid"
if [ -s "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; then exit 0; fi
mkdir -p "$DIR/run"; chown www-data:www-data "$DIR/run"
start-stop-daemon --start --background --make-pidfile --pidfile "$PID" --chuid www-data:www-data \
  --chdir @DW@ --output "$DIR/run/server.log" --exec /usr/bin/php -- \
  -d upload_max_filesize=64M -d post_max_size=64M -d memory_limit=512M -d display_errors=stderr \
  -S "127.0.0.1:$PORT" -t @DW@ "$DIR/app/router.php"
i=0
while [ $i -lt 150 ]; do
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/doku.php?id=start" 2>/dev/null; then exit 0; fi
  i=$((i+1)); sleep 0.2
done
echo "wiki did not answer on port $PORT" >&2
exit 1
"""

STOP_SH = r"""#!/bin/sh
# Stops the wiki's web server (waits until it is gone).
DIR='@DIR@'
start-stop-daemon --stop --quiet --pidfile "$DIR/run/dokuwiki.pid" --retry TERM/10/KILL/5 --remove-pidfile >/dev/null 2>&1
exit 0
"""


def cmd_install(args):
    install_packages(PACKAGES, log)
    return 0


def cmd_setup(args):
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    for sub in ("app", "run", "backup", "state", "harness"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    info = {"dir": d, "port": free_port(), "drill_port": free_port(), "version": version(), "new_keys": args.new_keys}
    with open(f"{d}/harness/instance.json", "w") as f:
        json.dump(info, f, indent=1)
    # Configuration: Debian's /etc/dokuwiki (links resolved), the instance's own local.php.
    etc = f"{d}/etc"
    os.makedirs(etc, exist_ok=True)
    for n in os.listdir("/etc/dokuwiki"):
        src = os.path.join("/etc/dokuwiki", n)
        if n in ("apache.conf", "lighttpd.conf", "htaccess", ".htaccess", "local.php") or not os.path.exists(src):
            continue
        shutil.copy2(src, os.path.join(etc, n))
    for n in ("acl.auth.php", "users.auth.php"):
        if not os.path.exists(f"{etc}/{n}") and os.path.exists(f"{etc}/{n}.dist"):
            shutil.copy2(f"{etc}/{n}.dist", f"{etc}/{n}")
    with open(f"{etc}/local.php", "w") as f:
        f.write(f"""<?php
$conf['title'] = 'sitevault real-application test';
$conf['savedir'] = '{d}/data';
$conf['baseurl'] = 'http://127.0.0.1:{info['port']}';
$conf['basedir'] = '/';
$conf['useacl'] = 0;
$conf['remote'] = 1;
$conf['remoteuser'] = '';
$conf['iexssprotect'] = 0;
$conf['mediarevisions'] = 1;
$conf['lang'] = 'en';
""")
    with open(f"{etc}/mime.local.conf", "w") as f:
        f.write("bin     application/octet-stream\n")
    for root, dirs, files in os.walk(etc):
        os.chown(root, 0, 33)
        os.chmod(root, 0o750)
        for n in files:
            os.chown(os.path.join(root, n), 0, 33)
            os.chmod(os.path.join(root, n), 0o640)
    # Data: Debian's template.
    shutil.copytree("/var/lib/dokuwiki/data", f"{d}/data", symlinks=True, dirs_exist_ok=True)
    chown_tree(f"{d}/data", USER)
    chown_tree(f"{d}/run", USER)
    subst = {"@DIR@": d, "@PORT@": str(info["port"]), "@DW@": DW}
    for name, text, mode in (("router.php", ROUTER, 0o644), ("start.sh", START_SH, 0o755), ("stop.sh", STOP_SH, 0o755)):
        for k, v in subst.items():
            text = text.replace(k, v)
        with open(f"{d}/app/{name}", "w") as f:
            f.write(text)
        os.chmod(f"{d}/app/{name}", mode)
    init_repository(d)
    write_control(d, info, args.new_keys)
    run([f"{d}/app/start.sh"])
    log(f"DokuWiki {info['version']} at http://127.0.0.1:{info['port']}/ pid {app_pid(d)}")
    return 0


def write_control(d, info, new_keys):
    keys = {k.strip() for k in (new_keys or "").split(",") if k.strip()}
    if keys - set(ALL_NEW_KEYS.split(",")):
        raise SystemExit(f"unknown new keys {sorted(keys - set(ALL_NEW_KEYS.split(',')))} (known: {ALL_NEW_KEYS})")
    t = ['site = "dokuwiki"', 'time_zone = "UTC"', 'state_dir = "state"']
    if "consistency" in keys:
        t.append('consistency = "site"')
    t += ["", "[repository]", 'path = "backup/repo"', 'password_file = "backup/password"', "",
          "[[component]]", 'name = "config"', 'kind = "config"', 'paths = ["etc"]',
          'settings = { packages = ["dpkg-query", "-W", "dokuwiki", "php8.2-cli"] }', "",
          "[[component]]", 'name = "data"', 'kind = "folders"', 'paths = ["data"]',
          # The contents of the cache, lock and temporary folders, not the folders themselves:
          # DokuWiki refuses to run without them ("cachedir … is not found").
          f'exclude = ["{d}/data/cache/*", "{d}/data/locks/*", "{d}/data/tmp/*"]', "",
          "[[component]]", 'name = "media"', 'kind = "install-media"', 'paths = ["app"]',
          'version_command = ["dpkg-query", "-W", "-f=${Version}", "dokuwiki"]', "",
          # The wiki's own service: stopped while its files are copied, started again after.
          "[[writer]]", 'name = "wiki"', 'kind = "service"', f'stop = ["{d}/app/stop.sh"]',
          f'start = ["{d}/app/start.sh"]', 'components = ["data"]', ""]
    if "probe" in keys:
        t += ["[recovery]", f'probe = ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:{info["port"]}/doku.php?id=start"]',
              'probe_timeout = "60s"', ""]
    if "drill" in keys:
        # The drill starts the recovered wiki from its sandbox: the copy's configuration and router
        # rewritten to the sandbox's paths and a port of its own, PHP's server in the foreground.
        port, dport = info["port"], info["drill_port"]
        script = (f'S="$SITEVAULT_SANDBOX"; sed -i "s#{d}#$S{d}#g; s#127.0.0.1:{port}#127.0.0.1:{dport}#g" '
                  f'"$S{d}/etc/local.php" "$S{d}/app/router.php" && cd {DW} && exec php -d display_errors=stderr '
                  f'-S 127.0.0.1:{dport} -t {DW} "$S{d}/app/router.php"')
        t += ["[drill]", "start = " + json.dumps(["sh", "-c", script]),
              f'probe = ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:{dport}/doku.php?id=start"]',
              'probe_timeout = "60s"', ""]
    with open(f"{d}/site.toml", "w") as f:
        f.write("\n".join(t))


def app_pid(d):
    return pid_alive(f"{d}/run/dokuwiki.pid")


def kill_app(d):
    kill_pid(app_pid(d))


def http_get(url, timeout=30, want_type=False):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            out = (r.status, r.read(), r.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as e:
        out = (e.code, b"", "")
    except Exception:  # noqa: BLE001
        out = (0, b"", "")
    return out if want_type else out[:2]


def wiki_status(port):
    """HTTP status of a real page; a "DokuWiki Setup Error" page (also 200) counts as 500."""
    s, body = http_get(f"http://127.0.0.1:{port}/doku.php?id=wiki:syntax", 10)
    if s == 200 and b"Setup Error" in body:
        return 500, "DokuWiki Setup Error: " + body.decode(errors="replace").split("<p>")[-1].split("</p>")[0].split("\n")[0].strip()
    return s, ""


def cmd_status(args):
    d = os.path.abspath(args.dir)
    port = load(d)["port"]
    end = time.time() + args.wait
    s, why = wiki_status(port)
    while s != 200 and time.time() < end:
        time.sleep(0.2)
        s, why = wiki_status(port)
    print(f"HTTP {s}; pid {app_pid(d)}" + (f" ({why})" if why else ""))
    return 0 if s == 200 else 1


class Wiki:
    def __init__(self, port, timeout=60):
        self.base = f"http://127.0.0.1:{port}"
        self.timeout = timeout

    def rpc(self):
        # A new connection each time (the built-in server closes every connection).
        return xmlrpc.client.ServerProxy(self.base + "/lib/exe/xmlrpc.php", allow_none=True)

    def edit(self, page, text):
        if self.rpc().wiki.putPage(page, text, {"sum": "sitevault real-application test", "minor": False}) is not True:
            raise RuntimeError(f"putPage {page} refused")

    def upload(self, media, content):
        self.rpc().wiki.putAttachment(media, xmlrpc.client.Binary(content), {"ow": True})

    def page_text(self, page):
        s, body, ctype = http_get(f"{self.base}/doku.php?" + urllib.parse.urlencode({"id": page, "do": "export_raw"}),
                                  self.timeout, want_type=True)
        if s != 200:
            raise RuntimeError(f"export_raw {page}: HTTP {s}")
        # A page that does not exist comes back as the HTML "this topic does not exist yet" page.
        if not body or not ctype.startswith("text/plain"):
            return None
        return body.decode()

    def file_bytes(self, media):
        s, body = http_get(f"{self.base}/lib/exe/fetch.php?" + urllib.parse.urlencode({"media": media}), self.timeout)
        if s == 404:
            return None, "missing"
        if s != 200:
            return None, f"fetch.php: HTTP {s}"
        return body, "fetch.php"


def page_id(title):
    return title.lower().replace(" ", "_").replace("_page_", ":page_")


def media_id(name):
    return name.lower().replace("_file_", ":file_")


def write_items(d, items, wiki=None):
    w = wiki or Wiki(load(d)["port"])
    entries = []
    for it in items:
        if it["kind"] == "file":
            mid = media_id(it["name"])
            w.upload(mid, it["content"])
            entries.append({"kind": "file", "name": mid, "size": it["size"],
                            "sha256": hashlib.sha256(it["content"]).hexdigest()})
        else:
            # A link to the media written with it, in DokuWiki's syntax and by its DokuWiki id.
            text = re.sub(r"\[\[Media:([^\]]+)\]\]", lambda m: "{{" + media_id(m.group(1)) + "}}", it["text"])
            w.edit(page_id(it["title"]), text)
            entries.append({"kind": "page", "title": page_id(it["title"]),
                            "sha256": hashlib.sha256(text.encode()).hexdigest()})
    return entries


def cmd_write(args):
    d = os.path.abspath(args.dir)
    t0 = time.time()
    items = make_items(args.prefix, args.n, args.seed)
    items.sort(key=lambda x: 0 if x["kind"] == "file" else 1)
    entries = write_items(d, items)
    ledger_write(args.ledger, entries, d, skip=VOLATILE)
    nfiles = sum(1 for e in entries if e["kind"] == "file")
    log(f"wrote {len(entries) - nfiles} pages and {nfiles} media files "
        f"({sum(e.get('size', 0) for e in entries)} bytes) in {time.time() - t0:.1f}s -> {args.ledger}")
    return 0


def cmd_write_loop(args):
    d = os.path.abspath(args.dir)
    w = Wiki(load(d)["port"], timeout=120)
    entries, k, errors = [], 0, 0
    while not os.path.exists(args.stop_file):
        try:
            entries += write_items(d, make_items(f"{args.prefix} {k:04d}", 1, args.seed + k), wiki=w)
        except Exception as e:  # noqa: BLE001 — the wiki is down while the service writer has it stopped
            errors += 1
            if errors < 5 or errors % 20 == 0:
                log(f"write-loop error (#{errors}): {e}")
            time.sleep(0.2)
        k += 1
        ledger_write(args.ledger, entries)
    log(f"write-loop: {len(entries)} items acknowledged, {errors} failed attempts (wiki stopped by the writer)")
    return 0


def file_problem(e, content, where):
    if content is None:
        return f"file {e['name']}: {'no such file page' if where == 'missing' else where}"
    if hashlib.sha256(content).hexdigest() != e["sha256"]:
        return f"file {e['name']}: {len(content)} bytes differ from the {e['size']} written"
    return None


def cmd_verify(args):
    d = os.path.abspath(args.dir)
    with open(args.ledger) as f:
        ledger = json.load(f)
    ok, bad = verify_items(Wiki(load(d)["port"]), ledger["items"], file_problem)
    return report(args.ledger, ledger, ok, bad, d, not args.no_owners)


def cmd_write_check(args):
    d = os.path.abspath(args.dir)
    return write_check(lambda items: write_items(d, items), lambda: Wiki(load(d)["port"]), "media")


def cmd_start(args):
    run([f"{os.path.abspath(args.dir)}/app/start.sh"])
    return 0


def cmd_stop(args):
    kill_app(os.path.abspath(args.dir))
    return 0


def cmd_destroy(args):
    d = os.path.abspath(args.dir)
    kill_app(d)
    for sub in ("data", "etc", "app"):
        shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
    if os.path.exists(f"{d}/run/dokuwiki.pid"):
        os.remove(f"{d}/run/dokuwiki.pid")
    log("destroyed: data/, etc/, app/ (the wiki killed)")
    return 0


def cmd_damage(args):
    """The wiki keeps running while half of its media files are deleted, the pages written before
    the backup are overwritten, and its configuration is changed (remote API switched off)."""
    d = os.path.abspath(args.dir)
    with open(args.ledger) as f:
        items = json.load(f)["items"]
    media = [e["name"] for e in items if e["kind"] == "file"][::2]
    pages = [e["title"] for e in items if e["kind"] == "page"]
    gone = 0
    for m in media:
        p = f"{d}/data/media/" + m.replace(":", "/")
        if os.path.exists(p):
            os.remove(p)
            gone += 1
    for pg in pages:
        p = f"{d}/data/pages/" + pg.replace(":", "/") + ".txt"
        if os.path.exists(p):
            with open(p, "w") as f:
                f.write("vandalised\n")
    with open(f"{d}/etc/local.php", "a") as f:
        f.write("$conf['remote'] = 0;\n")
    # A file where the control file excludes it (not backed up, on purpose): does an in-place
    # recovery leave it alone?
    sentinel = f"{d}/data/cache/sitevault-excluded-sentinel.txt"
    with open(sentinel, "w") as f:
        f.write("excluded from the backup; present before the recovery\n")
    shutil.chown(sentinel, USER, USER)
    with open(f"{d}/harness/excluded-sentinels", "w") as f:
        f.write(sentinel + "\n")
    log(f"damaged while running: {gone} media files deleted, {len(pages)} pages overwritten, remote API switched off")
    return 0


def cmd_teardown(args):
    d = os.path.abspath(args.dir)
    kill_app(d)
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    main(__doc__, ALL_NEW_KEYS, {
        "install": cmd_install, "setup": cmd_setup, "start": cmd_start, "stop": cmd_stop, "status": cmd_status,
        "write": cmd_write, "write-loop": cmd_write_loop, "verify": cmd_verify, "write-check": cmd_write_check,
        "destroy": cmd_destroy, "damage": cmd_damage, "teardown": cmd_teardown})
