#!/usr/bin/env python3
"""Opens a report.html in headless Chromium and checks what a person would see.

Speaks the Chrome DevTools Protocol over --remote-debugging-pipe (file descriptors 3 and 4,
NUL-terminated JSON), so that nothing but Python's standard library and Chromium is needed.
Clicks are real mouse events at the element's place on the screen.

    check.py CHROMIUM REPORT.html SCREENSHOT_PREFIX [--injection]

Checks: no console error nor uncaught exception; the tables, the charts and a waterfall are
rendered (they have a size on the screen, not only a place in the source); a sortable column
sorts when its header is clicked; clicking a finding shows its waterfall with the finding's
spans marked; folding a waterfall row hides the rows below it. With --injection: the page's
text holds the hostile span names as text and no script of theirs ran. Exits 1 on a failed
check, naming it. Screenshots: PREFIX-top.png (what a reader sees first) and
PREFIX-finding.png (the first finding opened).
"""

import base64
import json
import os
import subprocess
import sys
import time


class Browser:
    def __init__(self, chromium):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            # Copies first, so that neither end is overwritten by the other, and dup2 onto
            # another number makes them survive exec.
            read_end, write_end = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--allow-file-access-from-files",
                "--window-size=1280,900",
                "--user-data-dir=" + os.environ.get("CHOKEPOINT_BROWSER_PROFILE", "/tmp/chokepoint-browser-profile"),
                "about:blank",
            ],
            preexec_fn=wire,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self.read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def read(self, deadline):
        while b"\0" not in self.buffer:
            if time.time() > deadline:
                raise TimeoutError("the browser did not answer")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method, timeout=30):
        deadline = time.time() + timeout
        while True:
            for e in self.events:
                if e.get("method") == method:
                    self.events.remove(e)
                    return e
            self.events.append(self.read(deadline))

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector):
        """A real mouse click at the middle of the first element `selector` matches."""
        box = self.evaluate(
            "(() => { const e = document.querySelector(%s); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()" % json.dumps(selector)
        )
        if box is None:
            raise RuntimeError(f"nothing to click: {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    chromium, report, screenshot = sys.argv[1:4]
    injection = "--injection" in sys.argv[4:]
    has_findings = 0
    failures = []

    def expect(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    browser = Browser(chromium)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = browser.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False
        )
        browser.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(domain + ".enable")
        browser.send("Page.navigate", {"url": "file://" + os.path.abspath(report)})
        browser.wait_for("Page.loadEventFired")
        # What a person sees: elements with a size on the screen.
        visible = lambda selector: browser.evaluate(
            "Array.from(document.querySelectorAll(%s)).filter(e => {"
            " const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length"
            % json.dumps(selector)
        )
        expect(visible("table.sortable") > 0, "tables are rendered")
        if not injection:
            expect(visible("figure.chart svg") >= 1, "charts are rendered")
            expect(visible("#wf-viewer .wf-row") > 0, "the slowest request's waterfall is rendered")
            expect(visible("#wf-viewer .wf-cp") > 0, "its critical path is drawn")
            # Sorting: the first numeric column of the first level's bottleneck table.
            header = "details.level[open] table.sortable th.num"
            values = lambda: browser.evaluate(
                "(() => { const th = document.querySelector(%s); const t = th.closest('table');"
                " const i = Array.from(th.parentNode.children).indexOf(th);"
                " return Array.from(t.tBodies[0].rows).map(r => parseFloat(r.cells[i].dataset.v)); })()"
                % json.dumps(header)
            )
            browser.click(header)
            first = values()
            browser.click(header)
            second = values()
            expect(
                first == sorted(first, reverse=True) and second == sorted(second),
                "a numeric column sorts both ways when its header is clicked",
            )
            # The first finding whose exemplar's waterfall has spans of it.
            marked_finding = browser.evaluate(
                "(() => { for (const a of document.querySelectorAll('article.finding')) {"
                " const wf = a.dataset.wf && document.getElementById(a.dataset.wf);"
                " if (wf && Array.from(wf.querySelectorAll('.wf-row')).some("
                " r => r.dataset.findings.split(' ').includes(a.dataset.finding))) return a.id; }"
                " return null; })()"
            )
            has_findings = marked_finding is not None
            expect(has_findings, "a finding has an exemplar waterfall with its spans")
            if has_findings:
                selector = "#%s > h3" % marked_finding
                browser.click(selector)
                shown = visible("article.finding.open .wf-slot .wf-row")
                marked = visible("article.finding.open .wf-slot .wf-row.marked")
                expect(shown > 0, "clicking a finding shows its waterfall")
                expect(marked > 0, "the finding's spans are marked in it")
                before = visible("article.finding.open .wf-row:not(.hidden)")
                browser.click("article.finding.open .wf-slot .tg")
                after = visible("article.finding.open .wf-row:not(.hidden)")
                expect(after < before, "folding a row hides the rows below it")
                browser.click("article.finding.open .wf-slot .tg")
                expect(
                    visible("article.finding.open .wf-row:not(.hidden)") == before,
                    "unfolding it shows them again",
                )
        else:
            text = browser.evaluate("document.body.textContent")
            expect("<script>" in text, "a span named <script> is shown as text")
            expect("onerror=" in text, "an attribute-breaking name is shown as text")
            expect(browser.evaluate("typeof window.__pwned") == "undefined", "no injected script ran")
            expect(browser.evaluate("document.querySelectorAll('img').length") == 0, "no injected element exists")
        def save(path):
            shot = browser.send("Page.captureScreenshot", {"format": "png"})
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print(f"screenshot: {path}")

        browser.evaluate("window.scrollTo(0, 0)")
        save(screenshot + "-top.png")
        if not injection and has_findings:
            browser.evaluate("document.querySelector('#%s').scrollIntoView()" % marked_finding)
            save(screenshot + "-finding.png")
        time.sleep(0.2)
        browser.send("Runtime.evaluate", {"expression": "0"})
        errors = [
            e for e in browser.events
            if e.get("method") == "Runtime.exceptionThrown"
            or (e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") in ("error", "assert"))
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")
        ]
        for e in errors:
            print("      " + json.dumps(e["params"])[:300])
        expect(not errors, "no console error and no uncaught exception")
    finally:
        browser.close()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
