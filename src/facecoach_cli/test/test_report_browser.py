"""The session report in a real browser: headless Chromium renders it with its pictures, no console error,
no network (Debian's chromium package; `make setup-test` installs it when run as root)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: this folder is not on the path
from session_testutil import write_session  # noqa: E402

from facecoach_cli.session_page import write_session_report  # noqa: E402

PROBE = """<pre id="probe"></pre><script>window.addEventListener("load", () => {
document.getElementById("probe").textContent = JSON.stringify(
  [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth})));});</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip(
            "no chromium on PATH: Debian's chromium package renders the report here (`make setup-test` installs it "
            "when run as root; else `sudo apt-get install chromium`)"
        )
    return found


def _open(chromium: str, page: Path, profile: Path):
    """Load ``page`` headless with every network request failing; (the DOM after load, the console lines)."""
    got = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}"]
        + ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--no-first-run"]
        + ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr[-3000:]
    return got.stdout, [line for line in got.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_the_report_renders_in_headless_chromium_with_its_pictures_and_no_network(tmp_path):
    chromium = _chromium()
    session = write_session(tmp_path / "sessions" / "2026-12-06_07-00-00", faces=True)
    write_session_report(session)
    html = (session / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\(\s*["']?(https?:|//)|@import""", html)

    dom, console = _open(chromium, session / "report.html", tmp_path / "profile")
    assert console == [], console
    assert "Moments to rewatch" in dom and "You practised for 8 s." in dom

    probed = session / "probed.html"  # a copy that lists its images once loaded
    probed.write_text(html.replace("</body>", PROBE + "</body>"))
    dom, console = _open(chromium, probed, tmp_path / "profile")
    assert console == [], console
    images = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    faces = [i for i in images if i["alt"].startswith("your face at")]
    assert len(images) == 2 + len(faces) and len(faces) == 4, images  # timeline, trend, a face per moment
    assert all(i["complete"] and i["width"] > 0 for i in images), images
