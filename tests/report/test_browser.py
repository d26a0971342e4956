"""The report in a real browser: headless Chromium, watched over the DevTools protocol.

The watcher is tested first on pages broken on purpose, so "no errors" on the report means
something. The report's screenshot is kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest


pytestmark = pytest.mark.skipif(shutil.which("chromium") is None,
                                reason="needs /usr/bin/chromium (make test installs the Debian package)")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TINY_SVG = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHdpZHRoPScxMCcgaGVpZ2h0PScxMCcvPg=="


@pytest.fixture(scope="module")
def browser():
    from cdp_browser import Browser
    b = Browser()
    yield b
    b.close()


def _page(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.html"
    path.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8></head><body><p>text</p>{body}</body></html>")
    return path.as_uri()


def test_a_clean_page_reports_nothing(browser, tmp_path):
    report = browser.open(_page(tmp_path, "clean", f'<img src="{TINY_SVG}">'))
    assert report.errors == [] and report.undrawn_images == [] and report.remote_requests == []


@pytest.mark.parametrize("name, body, expected", [
    ("thrown", "<script>throw new Error('deliberately broken')</script>", "deliberately broken"),
    ("console", "<script>console.error('figure missing')</script>", "figure missing"),
    ("missing-file", '<img src="no-such-figure.svg">', "load failed"),
])
def test_the_watcher_sees_each_kind_of_error(browser, tmp_path, name, body, expected):
    report = browser.open(_page(tmp_path, name, body))
    assert any(expected in e for e in report.errors), report.errors


def test_the_watcher_sees_an_image_that_does_not_decode(browser, tmp_path):
    report = browser.open(_page(tmp_path, "undecodable", '<img src="data:image/svg+xml;base64,bm90IGFuIHN2Zw==">'))
    assert len(report.undrawn_images) == 1


def test_the_watcher_sees_a_request_that_leaves_the_machine(browser, tmp_path):
    # 192.0.2.1 is TEST-NET-1: never routed, so nothing is really fetched
    report = browser.open(_page(tmp_path, "remote", '<img src="http://192.0.2.1/chart.png">'))
    assert report.remote_requests == ["http://192.0.2.1/chart.png"]


def test_the_watcher_sees_a_table_wider_than_the_page(browser, tmp_path):
    cells = "".join(f"<td>column {i} of a very wide table</td>" for i in range(40))
    report = browser.open(_page(tmp_path, "wide", f"<div class=wide style='overflow-x:auto'><table><tr>{cells}</tr>"
                                                  "</table></div>"), width=1400)
    assert report.overflowing_tables == 1


def test_the_report_draws_every_figure_without_an_error(browser, compare_report):
    report = browser.open(compare_report.as_uri(), width=1400)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(report.screenshot)
    assert report.errors == []
    assert report.remote_requests == []
    assert len(report.images) == 7 and report.undrawn_images == []
    assert report.overflowing_tables == 0          # every table fits the page at 1,400 px
    assert report.banner.startswith("SYNTHETIC data")
    assert report.text_length > 2000
    # not a blank page: the screenshot is tall and has ink and colour (the figures)
    from PIL import Image
    img = np.asarray(Image.open(io.BytesIO(report.screenshot)).convert("RGB"))
    assert img.shape[0] > 3000
    ink = (img.min(axis=2) < 200).mean()
    colours = len(np.unique(img[::4, ::4].reshape(-1, 3), axis=0))
    assert ink > 0.02 and colours > 100, (ink, colours)


def test_a_sweep_report_fits_the_page_and_says_it_is_synthetic(browser, small_lake, sweep_folder, tmp_path):
    from backtest.cli import main
    toml = (sweep_folder / "sweep.toml").read_text()
    (sweep_folder / "sweep.toml").write_text(toml.replace('lake = "lake"', f'lake = "{small_lake}"'))
    assert main(["report", str(sweep_folder), "--out", str(tmp_path / "s.html")]) == 0
    report = browser.open((tmp_path / "s.html").as_uri(), width=1400)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "sweep-report.png").write_bytes(report.screenshot)
    assert report.errors == [] and report.undrawn_images == []
    assert report.overflowing_tables == 0
    assert report.banner.startswith("SYNTHETIC data")
