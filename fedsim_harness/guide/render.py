"""The guide as HTML (one self-contained file: the screenshots are embedded
as ``data:`` URIs, so it can be mailed or copied alone) and as a PDF that
Chromium prints from that HTML (A4, page numbers in the footer)."""
from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from fedsim_harness.guide.capture import Shot
from fedsim_harness.guide.steps import Book

__all__ = ["print_pdf", "render_html"]

_TEMPLATES = Path(__file__).with_name("templates")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")
_FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#5a6470;">'
           '{title} — page <span class="pageNumber"></span> sur <span class="totalPages"></span></div>')


def render_html(book: Book, shots: Mapping[str, Shot], made: date | None = None) -> str:
    made = made or date.today()
    environment = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]))
    numbers = {step.id: n for n, step in enumerate(book.steps, 1)}
    images = {guide_id: base64.b64encode(shot.png).decode("ascii") for guide_id, shot in shots.items()}
    return environment.get_template("guide.html").render(
        book=book, shots=shots, images=images, numbers=numbers,
        made=f"{made.day} {_MONTHS[made.month - 1]} {made.year}")


def print_pdf(browser, html_path: Path, pdf_path: Path, title: str) -> Path:
    """``html_path`` printed to ``pdf_path`` by Chromium (``browser``: a launched Playwright browser)."""
    context = browser.new_context(locale="fr-BE")
    try:
        page = context.new_page()
        page.goto(html_path.resolve().as_uri(), wait_until="load")
        page.emulate_media(media="print")
        escaped = title.replace("&", "&amp;").replace("<", "&lt;")
        page.pdf(path=str(pdf_path), format="A4", print_background=True, display_header_footer=True,
                 header_template="<span></span>", footer_template=_FOOTER.format(title=escaped),
                 margin={"top": "15mm", "bottom": "18mm", "left": "15mm", "right": "15mm"})
    finally:
        context.close()
    return pdf_path
