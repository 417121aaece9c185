"""End to end in a real headless Chromium: `streamlit run app.py`, paste, predict, every page.

Needs Playwright for Python (requirements-dev.txt) and a Chromium binary: Debian's `chromium`
at /usr/bin/chromium, or the path in $PROTLOC_CHROMIUM (Playwright's own browser download is
not used). Skipped, saying which is missing, otherwise. Saves a screenshot of every page into a
temporary folder; ``PROTLOC_SCREENSHOTS=docs/screenshots`` (the README's screenshot command)
writes them into the repository instead, so a plain test run leaves the tree clean.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from pages import examples
from pages import settings
from protloc.classes import CLASSES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
#: Where screenshots go: $PROTLOC_SCREENSHOTS when set (the explicit refresh), else a temporary
#: folder, so a plain test run never rewrites tracked files.
SHOTS = Path(os.environ.get("PROTLOC_SCREENSHOTS") or tempfile.mkdtemp(prefix="protloc-shots-"))
CHROMIUM = os.environ.get("PROTLOC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # software WebGL, so the 3D viewer draws without a GPU
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
SERVER_START_S = 90
STEP_MS = 60_000
WIDTH = 1440


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set PROTLOC_CHROMIUM)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True, timeout=STEP_MS
        )
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def streamlit_app(checkpoint_root: Path, log_dir: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` on a free loopback port serving ``checkpoint_root``: yields the
    URL and the server process; the process group is killed at the end."""
    port = _free_port()
    env = {**os.environ, settings.CHECKPOINTS_ENV: str(checkpoint_root), "PYTHONUNBUFFERED": "1"}
    log = open(log_dir / "streamlit.log", "w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"streamlit did not start on {url}:\n{log.read()[-3000:]}")
            time.sleep(0.5)
        yield url, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the session we started, nothing else
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def server(browser, tiny_checkpoint, tmp_path_factory):
    """The app serving a copy of the tiny checkpoint set (with CV results) as `default`."""
    from test_app import make_checkpoint_root, results_doc

    root = make_checkpoint_root(tiny_checkpoint, tmp_path_factory.mktemp("browser"))
    (root / "default" / "results.json").write_text(json.dumps(results_doc()))
    with streamlit_app(root, tmp_path_factory.mktemp("log")) as (url, _):
        yield url


def _settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(400)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=STEP_MS
    )
    page.wait_for_timeout(600)


def _shot(page, name: str) -> None:
    """Screenshot of the whole page: Streamlit scrolls inside its own container, so the
    viewport is stretched to the content's height first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": WIDTH, "height": min(max(int(height) + 80, 900), 7000)})
    page.wait_for_timeout(1500)  # charts re-layout
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size({"width": WIDTH, "height": 1000})


def _go(page, url: str, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    _settle(page)


def test_paste_predict_and_every_page(server, browser):
    from test_app import OMPA, helix_pdb

    context = browser.new_context(viewport={"width": WIDTH, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server, wait_until="domcontentloaded")
    page.get_by_text("Where does this protein live?").wait_for()
    _settle(page)

    # Predict: paste a sequence, click Predict, read the class.
    box = page.get_by_label("Protein sequence or FASTA")
    box.fill(f">OmpA_demo\n{OMPA.sequence}")
    box.press("Control+Enter")  # commit the text area
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("calibrated confidence").wait_for()
    _settle(page)
    body = page.inner_text("body")
    assert "OmpA_demo" in body
    assert any(c in body for c in CLASSES)
    assert "Traceback" not in body
    _shot(page, "1_predict")

    # Batch: a gzipped FASTA upload of three records, one bad.
    _go(page, server, "Batch")
    fasta = (
        f">ompa\n{OMPA.sequence}\n>dna_by_mistake\n{'ACGT' * 12}\n"
        f">male\n{examples.EXAMPLES['Periplasmic'].sequence}\n"
    )
    page.locator("input[type=file]").set_input_files(
        files=[
            {
                "name": "three.fasta.gz",
                "mimeType": "application/gzip",
                "buffer": gzip.compress(fasta.encode()),
            }
        ]
    )
    page.get_by_text("three.fasta.gz: 3 records").wait_for()
    page.get_by_role("button", name="Predict 2 sequence(s)").click()
    page.get_by_text("Showing").wait_for()
    _settle(page)
    assert "dna_by_mistake" in page.inner_text("body")
    _shot(page, "2_batch")

    # Attention explorer.
    _go(page, server, "Attention explorer")
    page.get_by_role("heading", name="Top-attended regions").wait_for()
    _shot(page, "3_attention_explorer")

    # Structure: an uploaded PDB file, coloured by attention.
    _go(page, server, "Structure")
    page.locator("input[type=file]").set_input_files(
        files=[
            {
                "name": "ompa_demo_helix.pdb",
                "mimeType": "chemical/x-pdb",
                "buffer": helix_pdb(OMPA.sequence[:60]).encode(),
            }
        ]
    )
    page.get_by_text("Chain to colour").wait_for()
    _settle(page)
    page.wait_for_timeout(2500)  # WebGL draws in the iframe
    _shot(page, "4_structure")

    # CV results and About.
    _go(page, server, "CV results")
    page.get_by_text("Side by side").first.wait_for()
    _shot(page, "5_cv_results")
    _go(page, server, "About / model card")
    page.get_by_text("Model card").first.wait_for()
    _shot(page, "6_about")

    assert "Traceback" not in page.inner_text("body")
    assert not errors, errors
    context.close()
