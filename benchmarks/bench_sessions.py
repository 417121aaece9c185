"""The app under load, in a real browser (issues 15 and 16): `streamlit run app.py` on
127.0.0.1 with the shipped model, driven by headless Chromium.

Measures: one prediction's page round trip in a warm session (click Predict -> result shown),
opening the CV results page warm, then 8 and 16 sessions predicting at once (each pastes its own
protein, clicks Predict, and downloads its CSV, which must hold the library's answer) with the
median and worst latency and the server's peak memory; and, without the browser, the JSON
download's size per 100 proteins (compact attention) and the figures export (one shared
plotly.js). Every wait is bounded; only 127.0.0.1 is contacted.

    .venv/bin/python -m benchmarks.bench_sessions               # 1, 8 and 16 sessions
    .venv/bin/python -m benchmarks.bench_sessions --quick       # 1 and 4 sessions, no doc
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks import _common as C

NAME = "bench_sessions"
CHROMIUM = os.environ.get("PROTLOC_CHROMIUM") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
STEP_MS = 240_000
CV_TARGET_S = 2.0
JSON_TARGET_BYTES = 1_000_000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoints", type=Path, default=C.ROOT / "checkpoints",
                   help="folder of checkpoint sets served (default: checkpoints/)")
    p.add_argument("--sessions", type=int, nargs="*", default=None, help="(8 16)")
    p.add_argument("--quick", action="store_true", help="4 sessions, no doc update")
    p.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    return p.parse_args(argv)


@contextlib.contextmanager
def serve(checkpoints: Path, log_path: Path):
    """`streamlit run app.py` on a free loopback port; yields (url, pid); stopped at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PROTLOC_CHECKPOINTS": str(checkpoints), "PYTHONUNBUFFERED": "1"}
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(C.ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=C.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"streamlit did not start; see {log_path}")
        yield url, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def settle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=STEP_MS)


def open_session(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    page.goto(url, wait_until="commit")
    page.get_by_text("Where does this protein live?").wait_for()
    settle(page)
    return context, page


def paste(page, name: str, sequence: str) -> None:
    box = page.get_by_label("Protein sequence or FASTA")
    box.fill(f">{name}\n{sequence}")
    box.press("Control+Enter")
    settle(page)


#: Installed in each page before Predict is clicked: the page itself notes (Date.now(), the
#: machine's clock) when its result first appears, so a starved browser polling late does not
#: count as server latency.
WATCH = """name => { window.__shownAt = null; const want = `Results for: pasted text (${name})`;
  new MutationObserver((_, obs) => { if (document.body.textContent.includes(want)) {
    window.__shownAt = Date.now(); obs.disconnect(); } })
  .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def predict_once(page, name: str) -> float:
    start = time.perf_counter()
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text(f"Results for: pasted text ({name})").wait_for()
    settle(page)
    return time.perf_counter() - start


def downloaded_call(page) -> tuple[str, str]:
    from protloc.output import read_results_csv

    with page.expect_download() as info:
        page.get_by_role("button", name="Results (CSV)").click()
    table = read_results_csv(io.BytesIO(Path(info.value.path()).read_bytes()))
    return table.loc[0, "ID"], table.loc[0, "Localization"]


class PeakRSS(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.peak = max(self.peak, self.rss())


def concurrent(browser, url: str, pid: int, proteins: dict[str, str], expected) -> dict:
    """Every session pastes, all click Predict, then each downloads its CSV."""
    sessions = [open_session(browser, url) for _ in proteins]
    try:
        for (_, page), (name, seq) in zip(sessions, proteins.items()):
            paste(page, name, seq)
        memory = PeakRSS(pid)
        memory.rss_before = memory.rss()
        memory.start()
        for (_, page), name in zip(sessions, proteins):
            page.evaluate(WATCH, name)
        clicked = {}
        for (_, page), name in zip(sessions, proteins):
            clicked[name] = time.time() * 1000
            page.get_by_role("button", name="Predict", exact=True).click(no_wait_after=True)
        latency: dict[str, float] = {}
        for (_, page), name in zip(sessions, proteins):
            with contextlib.suppress(Exception):  # a timeout leaves it out of "finished"
                page.wait_for_function("() => window.__shownAt", timeout=STEP_MS)
                latency[name] = (page.evaluate("window.__shownAt") - clicked[name]) / 1000
        memory.done.set()
        memory.join()
        correct = 0
        for (_, page), name in zip(sessions, proteins):
            settle(page)
            correct += downloaded_call(page) == (name, expected[name])
        times = sorted(latency.values())
        return {"sessions": len(sessions), "finished": len(times), "correct": correct,
                "median_s": statistics.median(times) if times else None,
                "worst_s": times[-1] if times else None,
                "rss_before_mib": memory.rss_before / 2**20, "peak_rss_mib": memory.peak / 2**20}
    finally:
        for context, _ in sessions:
            context.close()


def file_sizes(predictor) -> dict:
    """JSON per 100 proteins (compact, as the app writes it, and the CLI's full form) and the
    figures export (one protein: ZIP sharing plotly.js vs HTML with plotly.js inlined)."""
    from protloc.figures import attention_figure, figures_html, figures_zip, probability_bars
    from protloc.lanes import evidence_regions
    from protloc.output import prediction_json
    from protloc.sequences import parse_text

    rng = np.random.default_rng(7)
    lengths = C.deeplocpro_lengths(100, seed=7)
    records = parse_text("".join(f">p{i}\n{C.random_protein(int(n), rng)}\n"
                                 for i, n in enumerate(lengths)))
    preds = predictor.predict(records, group="unknown", attention=True)
    groups = ["unknown"] * len(records)
    compact = json.dumps(prediction_json(records, preds, predictor.name, "unknown", groups,
                                         compact=True), separators=(",", ":"))
    full = json.dumps(prediction_json(records, preds, predictor.name, "unknown"), indent=1)
    record, pred = records[0], preds[0]
    figs = [("probabilities", probability_bars(pred)),
            ("attention", attention_figure(pred.attention, record.sequence,
                                           regions=evidence_regions(record.sequence)))]
    return {"json_compact_bytes": len(compact.encode()), "json_full_bytes": len(full.encode()),
            "residues": int(lengths.sum()), "zip_bytes": len(figures_zip(figs, "t")),
            "html_inlined_bytes": len(figures_html(figs, "t").encode())}


def markdown(result: dict) -> str:
    s, f = result["single"], result["files"]
    rows = [
        C.machine_line(result["machine"]), "",
        f"Server: `streamlit run app.py` on 127.0.0.1, checkpoint set `{result['checkpoint']}`, "
        f"torch threads per server {result['torch_threads']} (`PROTLOC_TORCH_THREADS`); "
        "headless Chromium sessions on the same machine.", "",
        "| what | measured | target |", "|---|---|---|",
        f"| one prediction, page round trip (click → result shown), warm, median of "
        f"{len(s['times_s'])} | {s['median_s']:.2f} s | |",
        f"| CV results page opened warm (click → settled) | {result['cv_warm_s']:.2f} s "
        f"(first open {result['cv_first_s']:.2f} s) | < {CV_TARGET_S:g} s |",
        f"| JSON download per 100 proteins ({f['residues']:,} residues, compact attention) | "
        f"{f['json_compact_bytes'] / 1e6:.2f} MB (CLI's full form {f['json_full_bytes'] / 1e6:.2f} MB) "
        f"| < {JSON_TARGET_BYTES / 1e6:g} MB |",
        f"| figures export of one protein | ZIP {f['zip_bytes'] / 1e6:.2f} MB with one shared "
        f"plotly.js (inlined HTML {f['html_inlined_bytes'] / 1e6:.2f} MB) | one local plotly.js |",
    ]
    for c in result["concurrent"]:
        rows.append(
            f"| {c['sessions']} sessions predicting at once, each then downloading its CSV | "
            f"median {c['median_s']:.1f} s, worst {c['worst_s']:.1f} s; {c['correct']} of "
            f"{c['sessions']} CSVs correct; server RSS {c['rss_before_mib']:.0f} → peak "
            f"{c['peak_rss_mib']:.0f} MiB | all correct |")
    return "\n".join(rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    from protloc.predictor import EnsemblePredictor
    from protloc.sequences import parse_text

    counts = args.sessions or ([4] if args.quick else [8, 16])
    predictor = EnsemblePredictor.from_dir(args.checkpoints / "default")
    rng = np.random.default_rng(3)
    proteins = {f"s{i}": C.random_protein(int(n), rng)
                for i, n in enumerate(C.deeplocpro_lengths(max(counts), seed=3))}
    fasta = "".join(f">{k}\n{v}\n" for k, v in proteins.items())
    expected = {p.id: p.localization for p in predictor.predict(parse_text(fasta))}
    info = C.machine_info()
    log = Path(tempfile.mkdtemp(prefix="protloc-bench-")) / "server.log"
    with serve(args.checkpoints, log) as (url, pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context, page = open_session(browser, url)
        paste(page, "warm", proteins["s0"])
        predict_once(page, "warm")  # loads the model into the server
        times = [predict_once(page, "warm") for _ in range(3)]
        cv = []
        for _ in range(2):
            page.get_by_role("link", name="Predict").first.click()
            settle(page)
            start = time.perf_counter()
            page.get_by_role("link", name="CV results").first.click()
            page.get_by_text("Side by side").first.wait_for()
            settle(page)
            cv.append(time.perf_counter() - start)
        context.close()
        runs = [concurrent(browser, url, pid, dict(list(proteins.items())[:n]), expected)
                for n in counts]
        browser.close()
    result = {"machine": info, "checkpoint": C._show(args.checkpoints / "default"),
              "torch_threads": os.environ.get("PROTLOC_TORCH_THREADS", "1"),
              "single": {"times_s": times, "median_s": statistics.median(times)},
              "cv_first_s": cv[0], "cv_warm_s": cv[1], "concurrent": runs,
              "files": file_sizes(predictor)}
    md = markdown(result)
    print(md)
    C.record(NAME, result, md, args.quick, not (args.quick or args.no_doc))
    ok = all(r["correct"] == r["sessions"] for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
