"""The HTML report opened in a real browser: headless Chromium, offline.

The ``chromium`` fixture finds Debian's ``chromium`` or installs it (as root with apt-get); the
test is skipped, with the reason, only where neither is possible (under CI it fails instead).
The page is rendered with networking disabled; every figure listed in
``visualization_report.json`` must have been drawn by plotly (its div carries
``js-plotly-plot`` after the scripts ran) and no script error may occur. The screenshot is kept
in ``tests/artifacts/report_screenshot.png``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dno.report import write_report
from services import unavailable

pytest.importorskip(
    "plotly", reason="the interactive report needs plotly (pip install 'dno[plot]')"
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any network request fails
    "--enable-unsafe-swiftshader",  # software WebGL for the parallel coordinates
    "--virtual-time-budget=20000",
    "--enable-logging=stderr",
    "--v=0",
]


def _install_chromium() -> str:
    """Install Debian's chromium if we can; returns '' on success or the reason we cannot."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "chromium is not installed and this is not a root shell with apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    return ""


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a Chromium binary, installed on first use where possible."""
    found = _find_chromium()
    if found is None:
        reason = _install_chromium()
        found = _find_chromium()
        if found is None:
            unavailable(f"no headless browser: {reason or 'chromium not found after install'}")
    return found


class _Elements(HTMLParser):
    """Collects the classes of elements by id, and the attributes of <body>."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[str, str] = {}
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.classes[values["id"]] = values.get("class", "")
        if tag == "body":
            self.body = values


def _browse(chromium: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(
    chromium: str, single_study: Path, multi_study: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = write_report([str(single_study), str(multi_study)], out=out)
    figures = json.loads(result.json.read_text())["figures"]
    assert len(figures) >= 15
    dom = _browse(chromium, result.index, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    elements = _Elements()
    elements.feed(dom.stdout)
    missing = [
        f["div_id"]
        for f in figures
        if "js-plotly-plot" not in elements.classes.get(f["div_id"], "")
    ]
    assert missing == [], f"figures not drawn by plotly: {missing}"
    assert elements.body.get("data-script-errors") == "0"
    assert elements.body.get("data-figures-drawn") == str(len(figures))
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not [line for line in console if "Uncaught" in line], console
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report_screenshot.png"
    taken = _browse(
        chromium,
        result.index,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        "--window-size=1400,3000",
        "--hide-scrollbars",
    )
    assert taken.returncode == 0 and shot.stat().st_size > 50_000, taken.stderr[-2000:]
    print(f"screenshot: {shot}")
