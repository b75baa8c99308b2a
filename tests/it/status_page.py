"""Drives headless chromium over the DevTools protocol to look at the status
page of `scopectl serve` the way a person would, for tests/it/serve.rs.

    status_page.py CHROMIUM URL SHOTS_DIR WIDTHxHEIGHT [WIDTHxHEIGHT ...]

For each viewport: loads URL, waits until the page shows the stream's
stages and a preview frame, takes a screenshot (SHOTS_DIR/WxH.png) and
measures what a test can check: horizontal overflow, which elements are
visible inside the viewport, how many distinct shades the preview has, the
live parameter values and the plugins' sources as shown. Then, on the last
viewport, it changes `invert`'s intensity through the page's own control.
Prints one JSON document.
"""

import base64
import json
import subprocess
import sys
import tempfile
import time
import urllib.request

from websockets.sync.client import connect

MEASURE = r"""
(() => {
  const visible = id => {
    const e = document.getElementById(id);
    if (!e || e.hidden) return false;
    const r = e.getBoundingClientRect();
    const style = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && style.visibility !== "hidden" && style.display !== "none"
      && r.left >= -1 && r.right <= innerWidth + 1;
  };
  const img = document.getElementById("preview");
  let shades = 0;
  if (img.naturalWidth > 0) {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4) seen.add(data[i] + "," + data[i + 1] + "," + data[i + 2]);
    shades = seen.size;
  }
  const controls = [...document.querySelectorAll("#controls [data-key]")].map(e => ({
    stage: e.dataset.stage, key: e.dataset.key,
    value: e.type === "checkbox" ? e.checked : e.value,
    visible: e.getBoundingClientRect().right <= innerWidth + 1,
  }));
  const sources = [...document.querySelectorAll("#plugins .source")].map(e => ({ shown: e.textContent, full: e.title }));
  return JSON.stringify({
    overflow: document.documentElement.scrollWidth - innerWidth,
    visible: Object.fromEntries(["health", "generation", "preview", "controls", "generations", "plugins", "log", "follow", "gate"].map(id => [id, visible(id)])),
    shades, controls, sources,
    stages: [...document.querySelectorAll("#controls .stage strong")].map(e => e.textContent),
    rollback_buttons: document.querySelectorAll("#generations button").length,
    error_wraps: getComputedStyle(document.getElementById("error")).overflowWrap,
  });
})()
"""

READY = r"""
document.querySelectorAll('#controls .stage').length > 0
  && document.getElementById('preview').naturalWidth > 0
  && document.querySelectorAll('#generations .generation').length > 0
"""


class Page:
    def __init__(self, socket):
        self.socket = socket
        self.next = 0

    def call(self, method, **params):
        self.next += 1
        self.socket.send(json.dumps({"id": self.next, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"]))
        return result["result"].get("value")


def main():
    chromium, url, shots, *viewports = sys.argv[1:]
    profile = tempfile.mkdtemp()
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stderr=subprocess.PIPE, text=True)
    try:
        endpoint = None
        for line in browser.stderr:
            if "DevTools listening on " in line:
                endpoint = line.split("DevTools listening on ")[1].strip()
                break
        port = endpoint.split(":")[2].split("/")[0]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        target = json.load(urllib.request.urlopen(request, timeout=30))
        report = {}
        with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
            page = Page(socket)
            page.call("Page.enable")
            for viewport in viewports:
                width, height = (int(n) for n in viewport.split("x"))
                page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                          deviceScaleFactor=1, mobile=width < 600)
                page.call("Page.navigate", url=url)
                deadline = time.time() + 60
                while not page.evaluate(READY):
                    if time.time() > deadline:
                        raise RuntimeError("the page never showed the stream: "
                                           + page.evaluate("document.body.innerText"))
                    time.sleep(0.2)
                measured = json.loads(page.evaluate(MEASURE))
                shot = page.call("Page.captureScreenshot", format="png")
                with open(f"{shots}/{viewport}.png", "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
                report[viewport] = measured
            # A person changes the intensity with the page's own control.
            page.evaluate("""(() => {
              const input = document.getElementById('param-invert-intensity');
              input.value = '0.25';
              input.dispatchEvent(new Event('change'));
            })()""")
            time.sleep(1)
            report["error_after_change"] = page.evaluate("document.getElementById('error').textContent")
        print(json.dumps(report))
    finally:
        browser.kill()
        browser.wait()


if __name__ == "__main__":
    main()
