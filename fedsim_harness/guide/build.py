"""``fedsim guide build``: serve the federation on free ports in a
temporary folder, run the scenarios that show the guide's steps in
Chromium, and write ``guide.html`` and ``guide.pdf``."""
from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fedsim.federation import PROJECT_ROOT
from fedsim_harness.guide.capture import take_shots
from fedsim_harness.guide.render import print_pdf, render_html
from fedsim_harness.guide.steps import Book, load_book, plan
from fedsim_harness.scenario import model
from fedsim_harness.scenario.chromium import Chromium
from fedsim_harness.serve import ServedFederation, settings_on_free_ports

__all__ = ["SCENARIOS", "BuiltGuide", "build_guide"]

SCENARIOS = PROJECT_ROOT / "scenarios"


@dataclass(frozen=True)
class BuiltGuide:
    html: Path
    pdf: Path
    steps: tuple[str, ...]
    seconds: float


def build_guide(out_dir: Path, ids: Sequence[str] | None = None, *, scenarios_dir: Path = SCENARIOS,
                book: Book | None = None, executable: Path | None = None,
                on_shot: Callable[[str], None] | None = None) -> BuiltGuide:
    """The guide for the guide steps ``ids`` (all of them by default) in
    ``out_dir``. Raises ``GuideError`` when a step is not covered or a
    scenario fails, ``ChromiumUnavailable`` without Chromium."""
    started = time.perf_counter()
    book = book or load_book()
    if ids:
        book = book.only(ids)
    captures = plan(book, model.load_all(scenarios_dir))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fedsim-guide-") as root, _quiet_servers():
        served = ServedFederation(settings_on_free_ports(Path(root))).start()
        try:
            with Chromium(executable) as chromium:
                shots = take_shots(captures, served, chromium, on_shot)
                html = out_dir / "guide.html"
                html.write_text(render_html(book, shots), encoding="utf-8")
                pdf = print_pdf(chromium.browser, html, out_dir / "guide.pdf", book.title)
        finally:
            served.stop()
    return BuiltGuide(html, pdf, tuple(g.id for g in book.steps), time.perf_counter() - started)


@contextmanager
def _quiet_servers() -> Iterator[None]:
    """Without Werkzeug's line per request (its warnings and errors still show)."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
