"""Headless Chromium driven over the DevTools protocol, for the report's browser test.

One browser per test module; each page opens in its own target and reports what a person
would notice: thrown errors, console errors, failed loads, requests that left the machine,
figures that did not decode, and a full-page screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.sync.client import connect

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0")

# What the page says about itself once loaded: figures present and decoded, how much text.
PROBE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth,
                                                  shown: i.getBoundingClientRect().width})),
  text: document.body ? document.body.innerText.length : 0,
  overflowing: Array.from(document.querySelectorAll('.wide')).filter(d => d.scrollWidth > d.clientWidth + 1).length,
  banner: document.querySelector('.banner') ? document.querySelector('.banner').innerText : '',
  height: document.documentElement.scrollHeight,
})"""


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)       # thrown, console.error, failed loads
    requests: list[str] = field(default_factory=list)     # every URL the page asked for
    images: list[dict] = field(default_factory=list)
    text_length: int = 0
    overflowing_tables: int = 0                          # tables wider than their box (cut off, scrolled)
    banner: str = ""
    screenshot: bytes = b""

    @property
    def undrawn_images(self) -> list[dict]:
        return [i for i in self.images if not (i["complete"] and i["width"] > 0 and i["shown"] > 0)]

    @property
    def remote_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("data:", "file:", "about:"))]


class Browser:
    def __init__(self, binary: str | None = None):
        self.binary = binary or shutil.which("chromium") or shutil.which("chromium-browser")
        if not self.binary:
            raise FileNotFoundError("chromium")
        self.profile = tempfile.mkdtemp(prefix="report-chromium-")
        self.proc = subprocess.Popen([self.binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._connection = connect(self._endpoint(), max_size=None, open_timeout=30)
        self.ws = self._connection.__enter__()
        self.ids = itertools.count(1)

    def _endpoint(self, timeout: float = 30.0) -> str:
        """Chromium writes the port it picked, and the browser target's path, to DevToolsActivePort."""
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            lines = marker.read_text().split() if marker.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             events: list | None = None, timeout: float = 60.0) -> dict:
        """Send one command and wait for its answer; events that arrive meanwhile go to `events`."""
        msg_id = next(self.ids)
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if events is not None and "method" in reply:
                events.append(reply)

    def wait_for(self, event: str, session: str, events: list, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == event for e in events):
            reply = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if "method" in reply and reply.get("sessionId") == session:
                events.append(reply)

    def open(self, url: str, width: int = 1200, settle: float = 0.3) -> PageReport:
        events: list = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session, events=events)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session, events=events)
        self.send("Page.navigate", {"url": url}, session=session, events=events)
        self.wait_for("Page.loadEventFired", session, events)
        end = time.monotonic() + settle            # late console messages and image decodes
        while time.monotonic() < end:
            try:
                reply = json.loads(self.ws.recv(timeout=0.05))
                if "method" in reply:
                    events.append(reply)
            except TimeoutError:
                pass
        probe = json.loads(self.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                                     session=session, events=events)["result"]["value"])
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": min(probe["height"], 16000),
                                                         "deviceScaleFactor": 1, "mobile": False},
                  session=session, events=events)
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                         session=session, events=events)
        self.send("Target.closeTarget", {"targetId": target})
        report = PageReport(images=probe["images"], text_length=probe["text"], overflowing_tables=probe["overflowing"],
                            banner=probe["banner"],
                            screenshot=base64.b64decode(shot["data"]))
        for e in events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                report.errors.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                report.errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                            for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                report.errors.append("log: " + p["entry"]["text"])
            elif e["method"] == "Network.loadingFailed":
                report.errors.append("load failed: " + p.get("errorText", ""))
            elif e["method"] == "Network.requestWillBeSent":
                report.requests.append(p["request"]["url"])
        return report

    def close(self) -> None:
        try:
            self._connection.__exit__(None, None, None)
        finally:
            # the browser's own process group (its renderer and zygote children), by the id we started
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(timeout=10)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
            shutil.rmtree(self.profile, ignore_errors=True)
