"""The console in headless Chromium over WebDriver (run by run.sh, which starts the gateway).

Sets up through the /v1 API: bob with a Xiaomi phone and a delivered message; carol with a daemon
phone whose queued push died when she logged out (a dead letter), logged in again since. Then, in
the browser: log in (a wrong key first), the overview, bob's message timeline, bob's page, the
dead letter replayed, a test push previewed and sent. Every page's contents are asserted exactly;
a screenshot of each step goes to $CONSOLE_OUTPUT.

Every action that loads a page (a click on a link or a submit button, a redirect, `get`) goes
through `Page.go`, which waits until the old document is gone and the new one is complete, with
its marker element (and URL); only then is the page read. A WebDriver click returns when the
click is dispatched, not when the navigation it starts has finished, so a read right after it can
see the old page (the flake this replaced: no `#replayed`, a logout still on the old URL).
State the server reaches asynchronously (a delivery's state) is polled through the API.
"""

import json
import os
import sys
import tempfile
import time
import traceback
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

API = os.environ["PUSHWAY_API"]
API_KEY = os.environ["PUSHWAY_API_KEY"]
ADMIN = os.environ["PUSHWAY_ADMIN"]
ADMIN_KEY = os.environ["PUSHWAY_ADMIN_KEY"]
OUTPUT = os.environ["CONSOLE_OUTPUT"]
CHANNELS = "apns_production/demo, apns_sandbox/demo, daemon/daemon, fcm/demo, huawei/demo, xiaomi/demo"
# Generous: a loaded CI machine can take seconds for a page or a delivery; a wait ends as soon
# as its condition holds, so this only bounds a failure.
WAIT = 20


def api(method, path, body=None, key=None):
    """A /v1 request with the demo key; the JSON answer."""
    request = urllib.request.Request(
        f"{API}/v1/apps/demo{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    if key:
        request.add_header("Idempotency-Key", key)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def message(sender, user, text, key):
    body = {
        "message": {
            "conversation": {"type": "c2c", "peer": user},
            "sender": {"user_id": sender},
            "elements": [{"type": "text", "text": text}],
        },
        "recipients": [{"user_id": user}],
    }
    return api("POST", "/messages?wait=5s", body, key)["message_id"]


def state_of(message_id, user):
    status = api("GET", f"/messages/{message_id}")
    recipient = next(r for r in status["recipients"] if r["user_id"] == user)
    return recipient["devices"][0]["state"]


def wait_for(what, check, seconds=WAIT):
    """Polls the server until `check` holds: for state it reaches on its own (workers)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    sys.exit(f"FAILED: {what} within {seconds} s")


def setup():
    api("PUT", "/users/bob/devices/phone", {"kind": "xiaomi", "credential": "demo", "token": "regid-bob"})
    delivered = message("alice", "bob", "hello from the API", "console-bob-1")
    wait_for("bob's message delivered", lambda: state_of(delivered, "bob") == "delivered")
    api("PUT", "/users/carol/devices/phone", {"kind": "daemon"})
    queued = message("alice", "carol", "while you were away", "console-carol-1")
    wait_for("carol's push queued", lambda: state_of(queued, "carol") == "queued")
    api("POST", "/users/carol/devices/phone/logout")
    wait_for("carol's push dead", lambda: state_of(queued, "carol") == "dead")
    api("POST", "/users/carol/devices/phone/login")
    return delivered, queued


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ["CHROMIUM"]
    # What works on these machines (the environment notes): no sandbox as root, and none of
    # Chromium's background connections, which the closed network refuses.
    for flag in [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1000", f"--user-data-dir={tempfile.mkdtemp()}",
    ]:
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=os.environ["CHROMEDRIVER"]))


def gone(element):
    """A wait condition: `element`'s document has been replaced. Chromedriver says so with a
    stale element reference, or, when asked while the new document commits, with DevTools'
    "does not belong to the document" (an unknown error) - the same fact."""

    def check(_driver):
        try:
            element.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in (e.msg or ""):
                return True
            raise

    return check


class Page:
    """The browser, read only through waits and checks that name their step when they fail."""

    def __init__(self, driver):
        self.driver = driver

    def fail(self, what):
        """Stops the run: the step, the URL and the page source, and a screenshot."""
        try:
            url, source = self.driver.current_url, self.driver.page_source
            self.shot("failure")
        except WebDriverException as e:
            url = source = f"(the browser did not answer: {e.msg})"
        sys.exit(f"FAILED: {what}\n  url: {url}\n  page source:\n{source}")

    def until(self, step, what, condition):
        """Polls `condition` until it holds. A command on a page that is being replaced can
        fail while the navigation commits (the old document's context is gone, the new one
        not there yet): that is not yet an answer, so it is polled again; the last such error
        is shown if the wait runs out."""
        last = []

        def check(driver):
            try:
                return condition(driver)
            except WebDriverException as e:
                last[:] = [e.msg]
                return False

        try:
            WebDriverWait(self.driver, WAIT, poll_frequency=0.1).until(check)
        except TimeoutException:
            also = f" (last error: {last[0]})" if last else ""
            self.fail(f"{step}: {what} within {WAIT} s{also}")

    def go(self, step, action, marker, url=None):
        """Runs `action`, which loads a new page, and waits for that page: the old document
        gone, the new one's `marker` (a CSS selector that the old page does not have) present,
        the URL `url` when given, and the document completely parsed."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        action()
        self.until(step, "the old page left", gone(old))
        self.until(step, f"{marker} on the new page",
                   expected_conditions.presence_of_element_located((By.CSS_SELECTOR, marker)))
        if url is not None:
            self.until(step, f"the URL {url}", expected_conditions.url_to_be(url))
        self.until(step, "the page loaded",
                   lambda d: d.execute_script("return document.readyState") == "complete")

    def click(self, step, css, marker, url=None):
        """Clicks the element `css`, which loads the page with `marker`."""
        self.go(step, lambda: self.find(step, css).click(), marker, url)

    def open(self, step, url, marker, landing=None):
        """Opens `url`; `landing` is where a redirect leads (default: `url` itself)."""
        self.go(step, lambda: self.driver.get(url), marker, landing or url)

    def find(self, step, css):
        elements = self.driver.find_elements(By.CSS_SELECTOR, css)
        if not elements:
            self.fail(f"{step}: no {css} on the page")
        return elements[0]

    def text(self, css):
        return self.find(f"reading {css}", css).text

    def rows(self, table_id):
        """The text of every data cell of a table, row by row (header rows have no td)."""
        table = self.find(f"reading table #{table_id}", f"#{table_id}")
        out = []
        for row in table.find_elements(By.TAG_NAME, "tr"):
            cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
            if cells:
                out.append(cells)
        return out

    def expect(self, what, actual, expected):
        if actual != expected:
            self.fail(f"{what}\n  expected: {expected!r}\n  actual:   {actual!r}")
        print(f"ok: {what}")

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(OUTPUT, f"{name}.png"))


def main():
    delivered, dead = setup()
    driver = browser()
    page = Page(driver)
    try:
        run(page, delivered, dead)
    except WebDriverException:
        page.fail(f"a WebDriver command failed:\n{traceback.format_exc()}")
    finally:
        driver.quit()


def run(page, delivered, dead):
    # Log in: the console sends a browser without a session to the login form.
    page.open("the console without a session", f"{ADMIN}/console", "#key", f"{ADMIN}/console/login")
    page.expect("redirected to the login page", page.driver.current_url, f"{ADMIN}/console/login")
    page.shot("01-login")
    page.find("the login form", "#key").send_keys("pw_not_the_admin_key")
    page.click("a login with a wrong key", "#login", "#login-failed", f"{ADMIN}/console/login")
    page.expect("a wrong key is refused", page.text("#login-failed"), "Wrong admin key.")
    page.find("the login form", "#key").send_keys(ADMIN_KEY)
    page.click("a login with the admin key", "#login", "#apps", f"{ADMIN}/console")
    page.expect("logged in to the overview", page.driver.current_url, f"{ADMIN}/console")
    cookie = page.driver.get_cookie("pushway_admin") or {}
    page.expect("the session cookie is HttpOnly, SameSite=Strict",
                (cookie.get("httpOnly"), cookie.get("sameSite")), (True, "Strict"))
    page.expect("the overview's apps", page.rows("apps"), [["demo", CHANNELS, "0", "0", "—", "1"]])
    page.expect("route health", page.text("#routes-ok"), "No route is paused.")
    page.shot("02-overview")

    # A message id: its per-device timeline.
    page.find("the message lookup", "#message-id").send_keys(delivered)
    page.click("the message lookup", "#find-message button", "#timeline")
    page.expect("the message page", page.text("#message"), delivered)
    timeline = [r[:8] for r in page.rows("timeline")]
    # The last column is a time; only its presence is compared.
    last = timeline[0][7] if timeline and len(timeline[0]) == 8 else "(no such cell)"
    page.expect("bob's timeline", timeline,
                [["bob", "phone", "xiaomi/demo", "delivered", "1", "delivered", "—", last]])
    page.shot("03-message")

    # A user: devices, settings, logins, last attempts.
    page.open("the overview", f"{ADMIN}/console", "#find-user")
    page.find("the user lookup", "#user-id").send_keys("bob")
    page.click("the user lookup", "#find-user button", "#user")
    page.expect("the user page", page.text("#user"), "bob")
    page.expect("bob's devices", [r[:4] for r in page.rows("devices")], [["phone", "xiaomi/demo", "logged_in", "—"]])
    page.expect("bob's settings", page.rows("settings"), [["on (default)"], ["default"], ["default"]])
    page.expect("bob's last attempts", [r[:7] for r in page.rows("attempts")],
                [[delivered, "phone", "xiaomi", "delivered", "1", "delivered", "—"]])
    page.shot("04-user")

    # The dead letter: carol's push, replayed (she is logged in again with the same device).
    page.go("the dead letters link", lambda: page.driver.find_element(By.LINK_TEXT, "Dead letters").click(),
            "#dead-letters", f"{ADMIN}/console/dead-letters")
    letters = page.rows("dead-letters")
    page.expect("one dead letter", [r[2:9] for r in letters],
                [[dead, "carol", "phone", "daemon/daemon", "1", "dropped", "recipient_logged_out"]])
    page.shot("05-dead-letters")
    page.find("the dead letter's checkbox", "#dead-letters input[type=checkbox]").click()
    page.click("the replay of the checked row", "#replay-checked", "#replayed",
               f"{ADMIN}/console/dead-letters/replay")
    page.expect("the replay's answer", page.text("#replayed"), "Replayed 1 dead letter.")
    page.shot("06-replayed")
    # The replay made the row due again; a worker then hands it to the daemon channel (queued).
    wait_for("carol's replayed push queued again", lambda: state_of(dead, "carol") == "queued")
    page.go("the link back", lambda: page.driver.find_element(By.LINK_TEXT, "Back to the dead letters").click(),
            "#no-dead-letters", f"{ADMIN}/console/dead-letters?app=demo")
    page.expect("no dead letter left", page.text("#no-dead-letters"), "No dead letters.")

    # A test push to bob: preview, then send.
    page.open("bob's page", f"{ADMIN}/console/user?app=demo&user=bob", "#test-push-link")
    page.click("the test push link", "#test-push-link", "#test-push")
    page.expect("the form names bob", page.find("the test push form", "#push-user").get_attribute("value"), "bob")
    push_text = "Console test <b>not bold</b> " + "ü" * 120
    field = page.find("the test push form", "#push-text")
    field.clear()
    field.send_keys(push_text)
    unread = page.find("the test push form", "#push-unread")
    unread.clear()
    unread.send_keys("3")
    # The preview page has the same form again: the wait tells it by the old page going stale.
    page.click("the preview", "#preview", "#send-form")
    page.expect("iOS title", page.text("#preview-ios .title"), "console")
    page.expect("iOS body (in full)", page.text("#preview-ios .body"), push_text)
    page.expect("iOS sound and badge", (page.text("#preview-ios .sound"), page.text("#preview-ios .badge")), ("default", "3"))
    # Xiaomi: below 128 UTF-16 units with the ellipsis: 29 + 97 + 1.
    page.expect("Xiaomi body (shortened)", page.text("#preview-xiaomi .body"), push_text[:126] + "…")
    page.expect("Xiaomi shortened", page.text("#preview-xiaomi .shortened"), "shortened to fit")
    page.expect("Android badge", page.text("#preview-android .badge"), "—")
    page.expect("what happens per device", page.rows("preview-devices"), [["phone", "xiaomi/demo", "send"]])
    page.shot("07-test-push-preview")
    page.click("the send", "#send", "#sent")
    sent = page.text("#sent-message")
    page.expect("the push was accepted", page.text("#sent"), f"Accepted as message {sent}.")
    wait_for("the test push delivered", lambda: state_of(sent, "bob") == "delivered")
    page.click("the sent message's link", "#sent-message", "#timeline")
    page.expect("the test push's timeline", [r[:6] for r in page.rows("timeline")],
                [["bob", "phone", "xiaomi/demo", "delivered", "1", "delivered"]])
    page.shot("08-test-push-sent")

    # Log out: the session is gone.
    page.click("the logout", "#logout", "#key", f"{ADMIN}/console/login")
    page.expect("logged out", page.driver.current_url, f"{ADMIN}/console/login")
    page.open("the console after the logout", f"{ADMIN}/console", "#key", f"{ADMIN}/console/login")
    page.expect("the overview needs a login again", page.driver.current_url, f"{ADMIN}/console/login")


if __name__ == "__main__":
    main()
