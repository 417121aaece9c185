"""Load test: one `streamlit run app.py` on loopback, 8 browser sessions predicting at once.

A class sharing a lab server must all get right answers, and the server must hold one copy of
the model (``st.cache_resource``), not one per session. The served checkpoint set is untrained
but deliberately heavy (13 folds of about 24 MB each, mostly in the classifier head, so it stays
cheap to run; every size within the manifest limits of ``protloc.checkpoint``): a copy per
session would add hundreds of MB to the server's memory, which the test would see. Reuses the browser and server helpers of tests/test_browser.py and
skips, like it, without Playwright or Chromium.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import synthetic
from pages import examples
from pages import settings
from protloc.predictor import EnsemblePredictor
from protloc.sequences import parse_text
from test_browser import STEP_MS, WIDTH, _settle, browser, streamlit_app  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSIONS = 8
#: Shape of the heavy set: 13 folds x 5.9 M parameters (~306 MB), 71% of them in one
#: classifier-head layer (512 x 8,192, the largest head_hidden checkpoint.SIZE_LIMITS accepts)
#: that runs once per protein and makes small activations, so concurrent runs add little
#: memory besides the model itself. Weight comes from folds, not from one oversized layer.
LSTM_HIDDEN = 256
HEAD_HIDDEN = 8_192
FOLDS = 13
#: The set must stay this heavy for a copy per session to show in the server's memory.
MIN_SET_BYTES = 250 * 2**20
#: The 8 predictions together must finish within this (2 busy CPU cores in CI).
LOAD_DEADLINE_S = 90.0


def _inputs() -> list[tuple[str, str]]:
    """(ID, sequence) per session: the six examples and two of them shortened; all distinct,
    so a session shown another session's result would be caught."""
    sequences = [e.sequence for e in examples.EXAMPLES.values()]
    sequences += [sequences[0][:150], sequences[3][:120]]
    return [(f"load_{i}", seq) for i, seq in enumerate(sequences[:SESSIONS])]


@pytest.fixture(scope="module")
def heavy_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("load") / "checkpoint_sets"
    synthetic.write_random_checkpoint(
        root / "default",
        folds=FOLDS,
        lstm_hidden=LSTM_HIDDEN,
        head_hidden=HEAD_HIDDEN,
        name="heavy-untrained",
    )
    assert weight_bytes(root) > MIN_SET_BYTES, weight_bytes(root)
    return root


@pytest.fixture(scope="module")
def expected(heavy_set) -> dict[str, tuple[str, str]]:
    """The library's answer for each input: ID -> (class, confidence as the page shows it)."""
    predictor = EnsemblePredictor.from_dir(heavy_set / "default")
    records = parse_text("\n".join(f">{name}\n{seq}" for name, seq in _inputs()))
    predictions = predictor.predict(records)
    return {p.id: (p.localization, f"{p.confidence:.0%}") for p in predictions}


@pytest.fixture(scope="module")
def app(browser, heavy_set, tmp_path_factory):  # noqa: F811
    with streamlit_app(heavy_set, tmp_path_factory.mktemp("load_log")) as served:
        yield served


def weight_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "default").glob("*.safetensors"))


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class PeakRSS:
    """Samples a process's RSS in a thread and keeps the highest value."""

    def __init__(self, pid: int, every_s: float = 0.1) -> None:
        self.pid, self.every_s, self.peak = pid, every_s, rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


def new_page(browser, url: str, errors: list[str]):  # noqa: F811
    """A fresh browser context (its own Streamlit session) opening the app; not yet waited on."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="commit")
    return context, page


def ready(page) -> None:
    page.get_by_text("Where does this protein live?").wait_for()
    _settle(page)


def open_session(browser, url: str, errors: list[str]):  # noqa: F811
    context, page = new_page(browser, url, errors)
    ready(page)
    return context, page


def paste(page, name: str, sequence: str) -> None:
    """Type the FASTA and commit it; the rerun it causes is waited for by the next _settle."""
    box = page.get_by_label("Protein sequence or FASTA")
    box.fill(f">{name}\n{sequence}")
    box.press("Control+Enter")


def shown_result(page) -> str:
    """The page's text once a result is shown, without spaces or line breaks (the badge reads
    '<class>confidence<nn%>' in it)."""
    page.get_by_text("Results for:").wait_for()
    _settle(page)
    return "".join(page.inner_text("body").split())


def assert_clean(page) -> None:
    body = page.inner_text("body")
    assert "Traceback" not in body and "failed" not in body.lower(), body[:2000]
    assert page.locator("[data-testid='stException']").count() == 0


def test_eight_sessions_predict_at_once_with_one_model_copy(
    app, browser, heavy_set, expected  # noqa: F811
):
    url, proc = app
    errors: list[str] = []
    inputs = _inputs()
    contexts = []
    try:
        # One session first: loads the model into the server; its cost in RSS is measured.
        context, page = open_session(browser, url, errors)
        contexts.append(context)
        before_model = rss_bytes(proc.pid)
        paste(page, *inputs[0])
        _settle(page)
        page.get_by_role("button", name="Predict", exact=True).click()
        shown_result(page)
        one_model = rss_bytes(proc.pid)
        model_cost = one_model - before_model
        # The model is big enough to see: otherwise copies per session would go unnoticed.
        assert model_cost > 0.5 * weight_bytes(heavy_set), (model_cost, weight_bytes(heavy_set))

        # Open and fill the other sessions step by step across all pages (faster than one
        # page after the other).
        pages = [page]
        for _ in inputs[1:]:
            context, page = new_page(browser, url, errors)
            contexts.append(context)
            pages.append(page)
        for page in pages[1:]:
            ready(page)
        for page, (name, sequence) in zip(pages[1:], inputs[1:]):
            paste(page, name, sequence)
        for page in pages[1:]:
            _settle(page)

        with PeakRSS(proc.pid) as memory:
            started = time.monotonic()
            # Click every Predict button before waiting for any result: the server runs
            # the 8 scripts at the same time, each in its own session thread.
            for page in pages:
                page.get_by_role("button", name="Predict", exact=True).click()
            shown = [shown_result(page) for page in pages]
            elapsed = time.monotonic() - started

        for page, (name, _), text in zip(pages, inputs, shown):
            localization, confidence = expected[name]
            wanted = "".join(f"{localization}confidence{confidence}".split())
            assert wanted in text, (name, wanted)
            assert name in page.inner_text("body")
            assert_clean(page)
        assert not errors, errors
        assert elapsed < LOAD_DEADLINE_S, elapsed
        # Eight sessions share the one model: while they run, the server grows by less than
        # one more copy of it (sessions, threads and results take some memory; a copy per
        # session would add 7 x model_cost).
        growth = memory.peak - one_model
        print(f"model cost {model_cost / 2**20:.0f} MiB, server RSS {one_model / 2**20:.0f} MiB "
              f"with one session, peak {memory.peak / 2**20:.0f} MiB with {SESSIONS}; "
              f"{SESSIONS} predictions in {elapsed:.1f} s")
        assert growth < model_cost, (growth, model_cost)
        assert proc.poll() is None, "the server died"
    finally:
        for context in contexts:
            context.close()


@pytest.mark.parametrize(
    "name, payload, message",
    [
        ("proteins.exe", b"MZ" + bytes(100), "not allowed"),
        ("big.fasta", b">big\n" + b"A" * ((settings.MAX_UPLOAD_MB + 1) * 2**20), "must be"),
    ],
    ids=["wrong-type", "over-size-limit"],
)
def test_batch_upload_refuses_unlisted_types_and_big_files(
    app, browser, name, payload, message  # noqa: F811
):
    url, _ = app
    errors: list[str] = []
    context, page = open_session(browser, url, errors)
    try:
        page.get_by_role("link", name="Batch").first.click()
        _settle(page)
        page.locator("input[type=file]").set_input_files(
            files=[{"name": name, "mimeType": "application/octet-stream", "buffer": payload}]
        )
        _settle(page)
        body = page.inner_text("body")
        assert message in body, body[:3000]
        assert f"{name}:" not in body  # never parsed: no "<name>: N records" summary
        assert "Predict" not in [b.inner_text() for b in page.get_by_role("button").all()]
        assert_clean(page)
        assert not errors, errors
    finally:
        context.close()
