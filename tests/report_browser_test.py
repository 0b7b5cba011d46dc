#!/usr/bin/python3
"""report.html in a real browser: headless Chromium loads the report of several result
files (with a peer row, measured and modelled energy, long keys) at 1280 px and this
test fails on a load error, an image that did not load, or any element wider than the
page (a table that only fits by scrolling in its box counts as too wide). It first
checks that the measurement itself catches a deliberately too-wide table, so that a
pass means something. `bitlab report --screenshot` must write report.png.

Usage: report_browser_test.py BITLAB_BINARY. Exit 0 pass, 1 fail, 77 skipped
(no chromium, matplotlib or Jinja2 here: scripts/deps installs them).
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "harness", "report"))
import browser  # noqa: E402

SKIP = 77
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def with_peer_and_long_keys(path):
    """result_a with a llama.cpp peer row, a measured energy figure and a very long key."""
    with open(os.path.join(FIXTURES, "result_a.json")) as f:
        doc = json.load(f)
    for m in list(doc["measurements"]):
        if m["kind"] == "e2e" and m["backend"] == "avx512":
            peer = copy.deepcopy(m)
            peer["key"] = m["key"].replace("avx512", "llama.cpp/tq2_0")
            peer["backend"] = "llama.cpp/tq2_0"
            peer.pop("energy", None)
            peer["peer"] = {"engine": "llama.cpp", "format": "TQ2_0", "build_commit": "0123456789abcdef",
                            "network_differs": ["SiLU-gated FFN instead of relu²"]}
            doc["measurements"].append(peer)
            m["energy"] = {"source": "rapl", "joules_per_token": 0.4, "average_watts": 40.0, "idle_watts": 9.5,
                           "label": "measured (RAPL package + DRAM, idle subtracted)"}
        if m["kind"] == "kernel":
            m["key"] += "/" + "very_long_component_without_spaces_" * 4
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def overflowing(html_path):
    found = browser.measure(html_path)
    if found["images"]:
        fail(f"{html_path}: {found['images']} image(s) did not load")
    return found["overflowing"]


def main(argv):
    if len(argv) != 2:
        print("usage: report_browser_test.py BITLAB_BINARY")
        return 2
    if browser.find() is None:
        print("SKIP: chromium is not installed (Debian package chromium)")
        return SKIP
    for module in ("matplotlib", "jinja2"):
        if subprocess.run(["/usr/bin/python3", "-c", f"import {module}"], capture_output=True).returncode:
            print(f"SKIP: /usr/bin/python3 lacks {module}")
            return SKIP
    bitlab = argv[1]
    with tempfile.TemporaryDirectory(prefix="bitlab-browser-") as tmp:
        out = os.path.join(tmp, "out")
        files = [with_peer_and_long_keys(os.path.join(tmp, "peer.json"))] + [
            os.path.join(FIXTURES, n) for n in ("result_b.json", "result_gpu.json")]
        done = subprocess.run([bitlab, "report", *files, "-o", out, "--screenshot"], capture_output=True, text=True)
        if done.returncode:
            fail(f"bitlab report exited {done.returncode}: {done.stderr.strip()}")
        html_path = os.path.join(out, "report.html")
        with open(html_path, encoding="utf-8") as f:
            page = f.read()

        # The measurement must see a too-wide table, in its scrolling box or bare.
        for name, wide in (("wrapped", '<div class="table-wrap"><table><tr><td style="min-width:3000px">x</td>'
                                       '</tr></table></div>'),
                           ("bare", '<table><tr><td style="white-space:nowrap">' + "unbreakable " * 300 +
                                    '</td></tr></table>')):
            planted = os.path.join(tmp, f"planted_{name}.html")
            with open(planted, "w", encoding="utf-8") as f:
                f.write(page.replace("</body>", wide + "</body>", 1))
            if not overflowing(planted):
                fail(f"a deliberately too-wide table ({name}) was not reported")

        found = overflowing(html_path)
        if found:
            fail(f"{len(found)} element(s) wider than the {browser.WIDTH} px page: " + json.dumps(found[:5]))
        with open(os.path.join(out, "report.png"), "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                fail("report.png is not a PNG")
    print(f"report.html fits a {browser.WIDTH} px page; report.png written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
