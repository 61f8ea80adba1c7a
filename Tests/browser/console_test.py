#!/usr/bin/env python3
"""The web console in a real browser: Debian's chromium, headless, driven by Playwright.

Creates the sample site (and a second site), sets two console users, starts
`sitevault service --listen 127.0.0.1:0`, then, as an operator would: logs in, sees every site,
presses "Run a backup now" and watches the run finish, breaks the site (repository moved away)
and watches its row turn failed after the next run, looks at the chart; then checks that an
action without the CSRF token is refused, that a read-only user cannot act, and that a sixth
login after five wrong passwords is refused and slowed down. Screenshots go to
.build/console-artifacts/. Exits non-zero on the first failed check.

Usage: Tests/browser/console_test.py [SITEVAULT_BINARY]   (default .build/debug/sitevault)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SV = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/debug/sitevault"))
ART = os.path.join(ROOT, ".build/console-artifacts")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ENV = dict(os.environ, SITEVAULT_INSECURE_TEST_KDF="1")
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)
    print(f"ok {checks} - {what}", flush=True)


def shot(page, name):
    page.screenshot(path=os.path.join(ART, name + ".png"), full_page=True)


def passwd(console_dir, user, password, read_only=False):
    args = [SV, "console", "passwd", "--user", user, "--console-dir", console_dir] + (["--read-only"] if read_only else [])
    subprocess.run(args, input=password + "\n", text=True, check=True, env=ENV, stdout=subprocess.DEVNULL)


def row_state(page, site):
    return page.get_attribute(f"#site-{site}", "data-state")


def wait_row(page, site, state, timeout=120):
    """Reloads the dashboard (as its own refresh does) until the site's row shows `state`."""
    end = time.time() + timeout
    seen = []
    while time.time() < end:
        page.goto(BASE)
        s = row_state(page, site)
        if not seen or seen[-1] != s:
            seen.append(s)
        if s == state:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"row of {site} never showed {state!r}: seen {seen}")


def login(page, user, password):
    page.goto(BASE + "login")
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def main():
    global BASE
    os.makedirs(ART, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="sitevault-browser-")
    site = os.path.join(tmp, "site")
    console_dir = os.path.join(tmp, "console")
    service = None
    try:
        subprocess.run(["bash", os.path.join(ROOT, "examples/sample-site/make-site.sh"), site, SV, "20"],
                       check=True, env=ENV, stdout=subprocess.DEVNULL)
        control = os.path.join(site, "site.toml")
        text = open(control).read()
        second = os.path.join(site, "second.toml")
        with open(second, "w") as f:
            f.write(text.replace('site = "sample"', 'site = "second"').replace('state_dir = "state"', 'state_dir = "state-second"'))
        passwd(console_dir, "admin", "admin-password-1")
        passwd(console_dir, "viewer", "viewer-password-1", read_only=True)
        err = open(os.path.join(tmp, "service.err"), "w+")
        service = subprocess.Popen([SV, "service", "--site", control, "--site", second, "--listen", "127.0.0.1:0",
                                    "--console-dir", console_dir], env=ENV, stdout=subprocess.DEVNULL, stderr=err)
        end = time.time() + 60
        BASE = None
        while time.time() < end and BASE is None:
            m = re.search(r"console listening on (http://\S+)", open(err.name).read())
            BASE = m.group(1) if m else None
            time.sleep(0.1)
        check(BASE is not None, "the service prints the console's address")

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
            admin = browser.new_context(viewport={"width": 1280, "height": 900})
            page = admin.new_page()
            page.goto(BASE)
            check("/login" in page.url and page.is_visible("#password"), "not logged in: the login page")
            shot(page, "01-login")
            login(page, "admin", "admin-password-1")
            check(page.url == BASE, "logged in, on the dashboard")
            check(row_state(page, "sample") == "never run" and row_state(page, "second") == "never run",
                  "every site has its row (never run yet)")
            shot(page, "02-dashboard-new")

            # Run a backup now: the button, the confirmation page, then queued/running, then healthy.
            page.click("a[href='/sites/sample']")
            page.click("#action-backup")
            check("/confirm/backup" in page.url, "the action asks for confirmation")
            shot(page, "03-confirm")
            page.click("#confirm")
            check(page.is_visible("#notice"), "the backup is queued")
            shot(page, "04-queued")
            seen = wait_row(page, "sample", "healthy")
            check(row_state(page, "sample") == "healthy", f"the backup finished: the row turned healthy (seen {seen})")
            check(page.inner_text("#site-sample").find("succeeded") >= 0, "the last run shows as succeeded")
            shot(page, "05-dashboard-healthy")
            phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=admin.storage_state()).new_page()
            phone.goto(BASE)
            width = phone.evaluate("document.documentElement.scrollWidth")
            check(phone.is_visible("#site-sample") and width <= 390, f"readable on a phone: no sideways scrolling ({width} px)")
            shot(phone, "05b-phone-dashboard")

            # Break the site: its repository moved away; the next run fails and the row says so.
            repo = os.path.join(site, "backup/repo")
            shutil.move(repo, repo + ".away")
            page.goto(BASE + "sites/sample/confirm/backup")
            page.click("#confirm")
            wait_row(page, "sample", "failed")
            check(row_state(page, "sample") == "failed", "with its repository gone, the site's row turned failed")
            shot(page, "06-dashboard-failed")
            shutil.move(repo + ".away", repo)
            page.goto(BASE + "sites/sample/confirm/backup")
            page.click("#confirm")
            wait_row(page, "sample", "healthy")
            check(row_state(page, "sample") == "healthy", "repaired: the next run is healthy again")

            # The chart: drawn by the server, one bar per run in each panel.
            page.goto(BASE + "sites/sample")
            bars = page.locator("svg#timeline rect").count()
            check(bars >= 9, f"the timeline chart shows the runs ({bars} bars)")
            check(page.locator("svg#timeline rect.failed").count() >= 1, "the failed run is drawn as failed")
            shot(page, "07-site-page")
            page.select_option("select[name=severity]", "error")
            page.click("#filters button")
            check("severity=error" in page.url and page.locator("#messages tr.sev-info").count() == 0,
                  "the severity filter leaves info messages out")

            # CSRF: a POST with the session cookie but without the token is refused.
            r = admin.request.post(BASE + "sites/sample/actions/backup", form={"x": "1"}, max_redirects=0)
            check(r.status == 403, f"an action without the CSRF token is refused ({r.status})")

            # Read-only user: no buttons; the action refused even with its own token.
            viewer = browser.new_context()
            vpage = viewer.new_page()
            login(vpage, "viewer", "viewer-password-1")
            check(row_state(vpage, "sample") == "healthy", "the read-only user sees the dashboard")
            vpage.goto(BASE + "sites/sample")
            check(vpage.locator("#action-backup").count() == 0, "no action buttons for a read-only user")
            token = vpage.get_attribute("input[name=csrf]", "value")
            r = viewer.request.post(BASE + "sites/sample/actions/backup", form={"csrf": token}, max_redirects=0)
            check(r.status == 403, f"a read-only user pressing run is refused ({r.status})")
            vpage.goto(BASE + "sites/sample/confirm/backup")
            shot(vpage, "08-read-only-refused")

            # Five wrong passwords, then even the right one is refused, slowly.
            guess = browser.new_context().new_page()
            for i in range(5):
                login(guess, "admin", f"wrong-{i}")
                check(guess.is_visible("text=Wrong user name or password"), f"wrong password {i + 1} refused")
            t0 = time.time()
            login(guess, "admin", "admin-password-1")
            took = time.time() - t0
            check(guess.is_visible("text=Too many failed logins"), "the sixth attempt is refused")
            check(took >= 0.9, f"and slowed down ({took:.1f} s)")
            shot(guess, "09-rate-limited")
            browser.close()
        print(f"browser test: {checks} checks passed; screenshots in {ART}")
        return 0
    except Exception as e:  # noqa: BLE001 - any failure fails the test, with its reason
        print(f"not ok - {e}", file=sys.stderr)
        if service is not None:
            print(open(os.path.join(tmp, "service.err")).read()[-3000:], file=sys.stderr)
        return 1
    finally:
        if service is not None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.kill()
        pidfile = os.path.join(site, "run/sampleapp.pid")
        if os.path.exists(pidfile):
            try:
                os.kill(int(open(pidfile).read().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
