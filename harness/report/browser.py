"""Headless Chromium on a written report: a screenshot of the whole page (report.py
--screenshot) and a measurement of the elements wider than the page (the browser test).

Both load the page from a file with --dump-dom or --screenshot: no DevTools protocol,
no Python package beyond the standard library. The measurement loads a copy of the
page with a script appended whose findings it writes into the DOM, which --dump-dom
prints once the page has loaded."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from errors import SetupError

WIDTH = 1280
TIMEOUT_S = 120
MISSING = "needs headless Chromium: install the Debian package chromium"
# The tallest screenshot taken: a report with thousands of rows is cut there.
MAX_HEIGHT = 16000

# Every element whose right edge passes the viewport, or that scrolls sideways (a
# table in a scrolling box fits only by hiding part of itself). Elements inside an
# element already listed are left out: the outermost names the problem.
_MEASURE = """
<script>
window.addEventListener('load', () => {
  const w = document.documentElement.clientWidth, found = [];
  const name = e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '');
  for (const e of document.body.querySelectorAll('*')) {
    if (e.id === 'bitlab-measure' || found.some(f => f.el.contains(e))) continue;
    const r = e.getBoundingClientRect();
    const scrolls = e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible';
    if (r.right > w + 1 || scrolls)
      found.push({el: e, what: name(e), right: Math.round(r.right), scroll: e.scrollWidth,
                  text: (e.textContent || '').trim().slice(0, 60)});
  }
  const out = document.createElement('pre');
  out.id = 'bitlab-measure';
  out.textContent = JSON.stringify({width: w, height: document.documentElement.scrollHeight,
    images: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length,
    overflowing: found.map(({el, ...rest}) => rest)});
  document.body.appendChild(out);
});
</script>
"""


def find():
    """The chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args):
    exe = find()
    if exe is None:
        raise SetupError(f"--screenshot {MISSING}")
    with tempfile.TemporaryDirectory(prefix="bitlab-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}"] + args
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SetupError(f"chromium did not finish within {TIMEOUT_S} s")
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        raise SetupError(f"chromium failed (exit {done.returncode}): {last}")
    return done.stdout.decode("utf-8", "replace")


def measure(html_path, height=900):
    """{"width", "height", "images" (not loaded), "overflowing": [{what, right, scroll, text}]} of the page."""
    with open(html_path, encoding="utf-8") as f:
        page = f.read()
    if "</body>" not in page:
        raise SetupError(f"{html_path}: no </body>: not a complete HTML page")
    at = page.rindex("</body>")
    with tempfile.TemporaryDirectory(prefix="bitlab-measure-") as tmp:
        copy = os.path.join(tmp, "page.html")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(page[:at] + _MEASURE + page[at:])
        dom = _run([f"--window-size={WIDTH},{height}", "--virtual-time-budget=10000", "--dump-dom",
                    "file://" + copy])
    found = re.search(r'<pre id="bitlab-measure">(.*?)</pre>', dom, re.S)
    if not found:
        raise SetupError(f"{html_path}: the page did not finish loading in chromium")
    import html
    return json.loads(html.unescape(found.group(1)))


def screenshot(html_path, png_path):
    """The whole page at WIDTH px as a PNG (up to MAX_HEIGHT px tall)."""
    height = min(max(measure(html_path)["height"], 600), MAX_HEIGHT)
    _run([f"--window-size={WIDTH},{height}", "--virtual-time-budget=10000", f"--screenshot={png_path}",
          "file://" + os.path.abspath(html_path)])
    if not os.path.isfile(png_path):
        raise SetupError(f"chromium wrote no screenshot to {png_path}")
