"""End to end in a real headless Chromium: `streamlit run app.py`, then what a user does: paste ->
result -> heatmap -> structure with the sample -> CV page -> batch upload with mixed groups and a
bad record -> downloads, asserting what the page says, and that no request leaves localhost.

Needs Playwright for Python (requirements-dev.txt) and a Chromium binary: Debian's `chromium`
at /usr/bin/chromium, or the path in $PROTLOC_CHROMIUM (Playwright's own browser download is
not used). Skipped, saying which is missing, otherwise. Saves a screenshot of every page into a
temporary folder (the screenshots in docs/ are refreshed by ``scripts/screenshots.py``), so a
test run never writes into the repository.
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
#: Screenshots of a test run, for looking at failures; never in the repository.
SHOTS = Path(tempfile.mkdtemp(prefix="protloc-shots-"))
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


#: Made-up out-of-fold call for OmpA written into the served set's heldout.csv: the page must
#: show this label and prediction, and say that they disagree.
OMPA_HELDOUT = {"id": "psortb_gi129135", "partition": 4, "label": "Outer membrane",
                "probs": [0.01, 0.02, 0.79, 0.1, 0.06, 0.02]}
HOSTILE = "x1 ![pic](http://198.51.100.7/p.png) [click](javascript:alert(1))"


@pytest.fixture(scope="module")
def served_set(tiny_checkpoint, tmp_path_factory) -> Path:
    """A copy of the tiny set as `default`, with CV results (calibration bins over every
    confidence) and OmpA in its heldout.csv."""
    import pandas as pd

    from protloc.classes import COLUMN_NAMES
    from test_app import make_checkpoint_root, results_doc

    root = make_checkpoint_root(tiny_checkpoint, tmp_path_factory.mktemp("browser"))
    doc = results_doc()
    doc["all"]["calibration"]["bins"] = [
        {"lower": k / 10, "upper": (k + 1) / 10, "count": 40 + k, "mean_confidence": k / 10 + 0.05,
         "accuracy": k / 12} for k in range(10)
    ]
    (root / "default" / "results.json").write_text(json.dumps(doc))
    heldout = root / "default" / "heldout.csv"
    row = {"id": OMPA_HELDOUT["id"], "partition": OMPA_HELDOUT["partition"],
           "label": OMPA_HELDOUT["label"],
           **{COLUMN_NAMES[c]: p for c, p in zip(CLASSES, OMPA_HELDOUT["probs"])}}
    pd.concat([pd.read_csv(heldout), pd.DataFrame([row])]).to_csv(heldout, index=False)
    return root


@pytest.fixture(scope="module")
def server(browser, served_set, tmp_path_factory):
    with streamlit_app(served_set, tmp_path_factory.mktemp("log")) as (url, _):
        yield url


def _settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(400)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=STEP_MS
    )
    page.wait_for_timeout(600)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _go(page, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    _settle(page)


def _external(url: str, server: str) -> bool:
    return not url.startswith((server, "data:", "blob:", "about:", "chrome-extension:"))


def _expected(served_set: Path, fasta: str, group: str):
    from protloc.predictor import EnsemblePredictor
    from protloc.sequences import parse_text

    predictor = EnsemblePredictor.from_dir(served_set / "default")
    return predictor.predict(parse_text(fasta), group=group)[0]


def _download(page, name: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=name).first.click()
    return Path(info.value.path()).read_bytes()


def test_a_user_walks_through_the_app_offline(server, browser, served_set):
    from protloc.output import read_results_csv
    from protloc.trust import reliability_at
    from protloc.evaluation import load_results

    context = browser.new_context(viewport={"width": WIDTH, "height": 1000}, accept_downloads=True)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Cold start: the sidebar lists the six pages and never the pages/ folder's files.
    page.goto(server, wait_until="commit")
    seen_links: set[str] = set()
    deadline = time.monotonic() + STEP_MS / 1000
    while "Where does this protein live?" not in page.content() and time.monotonic() < deadline:
        seen_links |= set(page.locator("[data-testid=stSidebar] a").all_inner_texts())
        page.wait_for_timeout(100)
    _settle(page)
    links = page.locator("[data-testid=stSidebar] a").all_inner_texts()
    assert [t.split("\n")[-1].strip() for t in links] == ["Predict", "Batch", "Attention explorer", "Structure",
                                          "CV results", "About / model card"]
    assert not any("common" in t.lower() for t in seen_links | set(links)), seen_links

    # Predict: the OmpA example; the page gives its label, the out-of-fold call, the truth.
    page.get_by_role("button", name="OmpA · Outer membrane").click()
    _settle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("Known localization of OmpA").wait_for()
    _settle(page)
    body = page.inner_text("body")
    expected = _expected(served_set, examples.EXAMPLES["Outer membrane"].fasta(), "negative")
    assert f"{expected.localization}\nconfidence {expected.confidence:.0%}" in body or \
        f"{expected.localization}confidence {expected.confidence:.0%}" in body.replace("\n", "")
    assert "Known localization of OmpA (P0A910): Outer membrane." in body
    assert ("Out-of-fold prediction (fold model 4 never saw it in training): Periplasmic (79%), "
            "which disagrees with the known label.") in body
    words = reliability_at(load_results(served_set / "default" / "results.json"),
                           expected.confidence).words()
    assert f"Confidence {expected.confidence:.0%}: {words}." in body
    assert "it does not show that the call is right" in body
    # The heatmap carries the evidence lanes: OmpA's Sec signal peptide, never "TM".
    ticks = page.locator(".js-plotly-plot .yaxislayer-above text").all_text_contents()
    assert "signal peptide" in ticks and "cleavage site" in ticks, "|".join(ticks)
    assert not any("TM" in t for t in ticks)
    _shot(page, "1_predict")

    # A hostile FASTA header stays text: no image request, no javascript: link.
    box = page.get_by_label("Protein sequence or FASTA")
    box.fill(f">{HOSTILE}\nMKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQ*LL")
    box.press("Control+Enter")
    _settle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("What failed and why").wait_for()
    _settle(page)
    body = page.inner_text("body")
    assert "Found a stop codon '*' at position 39 inside the sequence" in body  # not garbled
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("img[src*='198.51.100.7']").count() == 0

    # Structure: the shipped sample, coloured by OmpA's attention (first prediction kept? no:
    # the last one failed, so predict OmpA again).
    page.get_by_role("button", name="OmpA · Outer membrane").click()
    _settle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("Known localization of OmpA").wait_for()
    _go(page, "Structure")
    page.get_by_role("button", name="Use the sample: OmpA β-barrel (PDB 1BXW)").click()
    page.get_by_text("offset 21: 172 residues matched by number").wait_for()
    _settle(page)
    page.wait_for_timeout(2000)  # WebGL draws in the iframe
    _shot(page, "2_structure")

    # CV results: the legend says protloc, PSORTb's answered share is on its bar.
    _go(page, "CV results")
    page.get_by_text("Side by side").first.wait_for()
    legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert "protloc" in legend and "default" not in legend
    _shot(page, "3_cv_results")

    # Batch: a gzipped FASTA, groups per record (header, default), one bad record.
    _go(page, "Batch")
    page.get_by_text("Organism group for records that do not name one").wait_for()
    fasta = (
        f">ompa group=negative\n{examples.EXAMPLES['Outer membrane'].sequence}\n"
        f">dna_by_mistake group=positive\n{'ACGT' * 12}\n"
        f">male\n{examples.EXAMPLES['Periplasmic'].sequence}\n"
    )
    uploader = page.locator("input[type=file]")
    uploader.set_input_files(files=[{"name": "empty.fasta", "mimeType": "text/plain", "buffer": b""}])
    page.get_by_text("The uploaded file empty.fasta is empty (0 bytes)").wait_for()
    uploader.set_input_files(
        files=[{"name": "three.fasta.gz", "mimeType": "application/gzip",
                "buffer": gzip.compress(fasta.encode())}]
    )
    page.get_by_text("three.fasta.gz: 3 records").wait_for()
    _settle(page)
    page.get_by_role("button", name="Predict 2 sequence(s)").click()
    page.get_by_text("Showing").wait_for()
    _settle(page)
    body = page.inner_text("body")
    assert "dna_by_mistake (record 2) could not be predicted" in body
    assert "DNA" in body
    _shot(page, "4_batch")

    # Downloads: every row names its group and the model; bad records kept with their error.
    table = read_results_csv(__import__("io").BytesIO(_download(page, "Results (CSV)")))
    assert table["ID"].tolist() == ["ompa", "dna_by_mistake", "male"]
    assert table["Group"].tolist() == ["negative", "positive", "unknown"]
    assert set(table["Model"]) == {"tiny-synthetic"}
    assert "DNA" in table.loc[1, "Error"] and table.loc[0, "Localization"] in CLASSES
    doc = json.loads(_download(page, "Results with attention (JSON)"))
    assert [r["Group"] for r in doc["results"]] == ["negative", "positive", "unknown"]

    # A reload keeps the finished batch (same session link).
    page.reload(wait_until="commit")
    page.get_by_text("Results for: three.fasta.gz").wait_for()

    assert "Traceback" not in page.inner_text("body")
    assert not errors, errors
    outside = sorted({u for u in requests if _external(u, server)})
    assert not outside, outside  # zero requests leave localhost (favicon and fonts included)
    assert len(requests) > 20  # the counter did see the page's own requests
    context.close()
