"""The console in headless Chromium over WebDriver (run by run.sh, which starts the gateway).

Sets up through the /v1 API: bob with a Xiaomi phone and a delivered message; carol with a daemon
phone whose queued push died when she logged out (a dead letter), logged in again since. Then, in
the browser: log in (a wrong key first), the overview, bob's message timeline, bob's page, the
dead letter replayed, a test push previewed and sent. Every page's contents are asserted exactly;
a screenshot of each step goes to $CONSOLE_OUTPUT.
"""

import json
import os
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

API = os.environ["PUSHWAY_API"]
API_KEY = os.environ["PUSHWAY_API_KEY"]
ADMIN = os.environ["PUSHWAY_ADMIN"]
ADMIN_KEY = os.environ["PUSHWAY_ADMIN_KEY"]
OUTPUT = os.environ["CONSOLE_OUTPUT"]
CHANNELS = "apns_production/demo, apns_sandbox/demo, daemon/daemon, fcm/demo, huawei/demo, xiaomi/demo"


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


def wait_for(what, check, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    sys.exit(f"FAILED: {what} within {seconds} s")


def expect(what, actual, expected):
    if actual != expected:
        sys.exit(f"FAILED: {what}\n  expected: {expected!r}\n  actual:   {actual!r}")
    print(f"ok: {what}")


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


def rows(driver, table_id):
    """The text of every data cell of a table, row by row (header rows have no td)."""
    table = driver.find_element(By.ID, table_id)
    out = []
    for row in table.find_elements(By.TAG_NAME, "tr"):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        if cells:
            out.append(cells)
    return out


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def shot(driver, name):
    driver.save_screenshot(os.path.join(OUTPUT, f"{name}.png"))


def main():
    delivered, dead = setup()
    driver = browser()
    try:
        run(driver, delivered, dead)
    except Exception:
        shot(driver, "failure")
        raise
    finally:
        driver.quit()


def run(driver, delivered, dead):
    # Log in: the console sends a browser without a session to the login form.
    driver.get(f"{ADMIN}/console")
    expect("redirected to the login page", driver.current_url, f"{ADMIN}/console/login")
    shot(driver, "01-login")
    driver.find_element(By.ID, "key").send_keys("pw_not_the_admin_key")
    driver.find_element(By.ID, "login").click()
    expect("a wrong key is refused", text(driver, "#login-failed"), "Wrong admin key.")
    driver.find_element(By.ID, "key").send_keys(ADMIN_KEY)
    driver.find_element(By.ID, "login").click()
    expect("logged in to the overview", driver.current_url, f"{ADMIN}/console")
    cookie = driver.get_cookie("pushway_admin")
    expect("the session cookie is HttpOnly, SameSite=Strict",
           (cookie["httpOnly"], cookie["sameSite"]), (True, "Strict"))
    expect("the overview's apps", rows(driver, "apps"), [["demo", CHANNELS, "0", "0", "—", "1"]])
    expect("route health", text(driver, "#routes-ok"), "No route is paused.")
    shot(driver, "02-overview")

    # A message id: its per-device timeline.
    driver.find_element(By.ID, "message-id").send_keys(delivered)
    driver.find_element(By.CSS_SELECTOR, "#find-message button").click()
    expect("the message page", text(driver, "#message"), delivered)
    timeline = [r[:8] for r in rows(driver, "timeline")]
    expect("bob's timeline", timeline, [["bob", "phone", "xiaomi/demo", "delivered", "1", "delivered", "—", timeline[0][7]]])
    shot(driver, "03-message")

    # A user: devices, settings, logins, last attempts.
    driver.get(f"{ADMIN}/console")
    driver.find_element(By.ID, "user-id").send_keys("bob")
    driver.find_element(By.CSS_SELECTOR, "#find-user button").click()
    expect("the user page", text(driver, "#user"), "bob")
    expect("bob's devices", [r[:4] for r in rows(driver, "devices")], [["phone", "xiaomi/demo", "logged_in", "—"]])
    expect("bob's settings", rows(driver, "settings"), [["on (default)"], ["default"], ["default"]])
    expect("bob's last attempts", [r[:7] for r in rows(driver, "attempts")],
           [[delivered, "phone", "xiaomi", "delivered", "1", "delivered", "—"]])
    shot(driver, "04-user")

    # The dead letter: carol's push, replayed (she is logged in again with the same device).
    driver.find_element(By.LINK_TEXT, "Dead letters").click()
    letters = rows(driver, "dead-letters")
    expect("one dead letter", [r[2:9] for r in letters], [[dead, "carol", "phone", "daemon/daemon", "1", "dropped", "recipient_logged_out"]])
    shot(driver, "05-dead-letters")
    driver.find_element(By.CSS_SELECTOR, "#dead-letters input[type=checkbox]").click()
    driver.find_element(By.ID, "replay-checked").click()
    expect("the replay's answer", text(driver, "#replayed"), "Replayed 1 dead letter.")
    shot(driver, "06-replayed")
    wait_for("carol's replayed push queued again", lambda: state_of(dead, "carol") == "queued")
    driver.find_element(By.LINK_TEXT, "Back to the dead letters").click()
    expect("no dead letter left", text(driver, "#no-dead-letters"), "No dead letters.")

    # A test push to bob: preview, then send.
    driver.get(f"{ADMIN}/console/user?app=demo&user=bob")
    driver.find_element(By.ID, "test-push-link").click()
    expect("the form names bob", driver.find_element(By.ID, "push-user").get_attribute("value"), "bob")
    push_text = "Console test <b>not bold</b> " + "ü" * 120
    field = driver.find_element(By.ID, "push-text")
    field.clear()
    field.send_keys(push_text)
    unread = driver.find_element(By.ID, "push-unread")
    unread.clear()
    unread.send_keys("3")
    driver.find_element(By.ID, "preview").click()
    expect("iOS title", text(driver, "#preview-ios .title"), "console")
    expect("iOS body (in full)", text(driver, "#preview-ios .body"), push_text)
    expect("iOS sound and badge", (text(driver, "#preview-ios .sound"), text(driver, "#preview-ios .badge")), ("default", "3"))
    # Xiaomi: below 128 UTF-16 units with the ellipsis: 29 + 97 + 1.
    expect("Xiaomi body (shortened)", text(driver, "#preview-xiaomi .body"), push_text[:126] + "…")
    expect("Xiaomi shortened", text(driver, "#preview-xiaomi .shortened"), "shortened to fit")
    expect("Android badge", text(driver, "#preview-android .badge"), "—")
    expect("what happens per device", rows(driver, "preview-devices"), [["phone", "xiaomi/demo", "send"]])
    shot(driver, "07-test-push-preview")
    driver.find_element(By.ID, "send").click()
    sent = text(driver, "#sent-message")
    expect("the push was accepted", text(driver, "#sent"), f"Accepted as message {sent}.")
    wait_for("the test push delivered", lambda: state_of(sent, "bob") == "delivered")
    driver.find_element(By.ID, "sent-message").click()
    expect("the test push's timeline", [r[:6] for r in rows(driver, "timeline")],
           [["bob", "phone", "xiaomi/demo", "delivered", "1", "delivered"]])
    shot(driver, "08-test-push-sent")

    # Log out: the session is gone.
    driver.find_element(By.ID, "logout").click()
    expect("logged out", driver.current_url, f"{ADMIN}/console/login")
    driver.get(f"{ADMIN}/console")
    expect("the overview needs a login again", driver.current_url, f"{ADMIN}/console/login")


if __name__ == "__main__":
    main()
