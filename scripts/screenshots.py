"""Refresh the app screenshots in docs/screenshots/ (the explicit command; tests never write
there): `streamlit run app.py` on 127.0.0.1 with the shipped model, headless Chromium, every
page at 1024x768 (a classroom projector) and 1920x1080, plus the CV page in presentation mode.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import _common as C
from benchmarks.bench_sessions import CHROMIUM, LAUNCH_ARGS, serve, settle

SIZES = ((1024, 768), (1920, 1080))
STEP_MS = 240_000


def shoot(page, out: Path, name: str, size: tuple[int, int]) -> None:
    page.wait_for_timeout(1500)  # charts re-layout
    page.screenshot(path=str(out / f"{name}_{size[0]}x{size[1]}.png"))


def go(page, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    settle(page)


def walk(browser, url: str, out: Path, size: tuple[int, int]) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    page.goto(url, wait_until="commit")
    page.get_by_text("Where does this protein live?").wait_for()
    settle(page)
    page.get_by_role("button", name="OmpA · Outer membrane").click()
    settle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text("Results for:").wait_for()
    settle(page)
    page.get_by_text("Results for:").scroll_into_view_if_needed()
    shoot(page, out, "1_predict", size)
    go(page, "Attention explorer")
    shoot(page, out, "2_attention_explorer", size)
    go(page, "Structure")
    page.get_by_role("button", name="Use the sample: OmpA β-barrel (PDB 1BXW)").click()
    page.get_by_text("residues matched by number").wait_for()
    settle(page)
    page.wait_for_timeout(2500)  # WebGL draws in the iframe
    shoot(page, out, "3_structure", size)
    go(page, "Batch")
    page.get_by_role("tab", name="Paste FASTA").click()
    page.get_by_label("FASTA text").fill(
        "".join(f">{e.short.replace(' ', '_')} group={e.group}\n{e.sequence}\n"
                for e in __import__("pages.examples", fromlist=["EXAMPLES"]).EXAMPLES.values())
        + ">not_a_protein\nACGTACGTACGTACGTACGTACGT\n")
    page.get_by_label("FASTA text").press("Control+Enter")
    settle(page)
    page.get_by_role("button", name="Predict 6 sequence(s)").click()
    page.get_by_text("Showing").wait_for()
    settle(page)
    shoot(page, out, "4_batch", size)
    go(page, "CV results")
    page.get_by_text("Side by side").first.wait_for()
    shoot(page, out, "5_cv_results", size)
    page.get_by_text("Presentation mode", exact=True).click()
    settle(page)
    shoot(page, out, "6_presentation", size)
    page.get_by_text("Presentation mode", exact=True).click()
    settle(page)
    go(page, "About / model card")
    shoot(page, out, "7_about", size)
    context.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=C.ROOT / "docs" / "screenshots")
    p.add_argument("--checkpoints", type=Path, default=C.ROOT / "checkpoints")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.mkdtemp(prefix="protloc-shots-")) / "server.log"
    with serve(args.checkpoints, log) as (url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        for size in SIZES:
            walk(browser, url, args.out, size)
        browser.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
