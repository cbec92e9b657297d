"""``fedsim guide build`` in a real Chromium: the guide for a few steps, as
HTML (each step's title, explanation and a real screenshot embedded) and
as a PDF printed by Chromium."""
from __future__ import annotations

import base64
import html as markup
import re
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from fedsim_harness.cli import cli
from fedsim_harness.guide import build_guide, load_book

pytestmark = pytest.mark.browser
PNG = b"\x89PNG\r\n\x1a\n"


def _pngs(html: str) -> dict[str, bytes]:
    return {guide_id: base64.b64decode(data) for guide_id, data in
            re.findall(r'<article class="step" id="(G\d\d)">.*?src="data:image/png;base64,([A-Za-z0-9+/=]+)"',
                       html, re.DOTALL)}


def test_the_guide_for_the_first_three_steps(chromium_executable: Path, tmp_path: Path) -> None:
    built = build_guide(tmp_path / "out", ["G01", "G02", "G03"], executable=chromium_executable)

    html = built.html.read_text(encoding="utf-8")
    assert built.steps == ("G01", "G02", "G03") and '<html lang="fr">' in html
    assert "Table des matières" in html and load_book().title in html
    titles = {step.id: step for step in load_book().steps}
    text = markup.unescape(html)
    positions = [html.index(f'id="{g}"') for g in built.steps]
    assert positions == sorted(positions)  # the connection guide's order
    images = _pngs(html)
    assert sorted(images) == ["G01", "G02", "G03"]
    for guide_id, png in images.items():
        step = titles[guide_id]
        assert step.title in text and step.explanation in text
        assert png.startswith(PNG) and len(png) > 20_000  # a page, not a blank
        assert struct.unpack(">I", png[16:20])[0] == 1280  # 1280 px wide
        assert f"étape {built.steps.index(guide_id) + 1} : {step.title}" in text  # the image's alt text
    pdf = built.pdf.read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 1


def test_g13_shows_the_actions_menu_open_and_g14_the_page_it_leads_to(chromium_executable: Path,
                                                                      tmp_path: Path) -> None:
    built = build_guide(tmp_path / "out", ["G13", "G14"], executable=chromium_executable)

    images = _pngs(built.html.read_text(encoding="utf-8"))
    assert images["G13"] != images["G14"]
    # G13 is the window as shown with the ⋮ menu open (a whole-page capture
    # resizes the window, which closes it); G14 the whole Modigia page.
    height = {g: struct.unpack(">I", png[20:24])[0] for g, png in images.items()}
    assert height["G13"] == 800 and height["G14"] > 800


def test_the_command_says_where_the_guide_is_and_refuses_an_unknown_step(chromium_executable: Path,
                                                                         tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDSIM_CHROMIUM", str(chromium_executable))
    refused = CliRunner().invoke(cli, ["guide", "build", "--out", str(tmp_path), "--steps", "G27"])
    assert refused.exit_code == 2 and "G27" in refused.output

    done = CliRunner().invoke(cli, ["guide", "build", "--out", str(tmp_path / "g01"), "--steps", "G01"])
    assert done.exit_code == 0, done.output
    assert "1 guide steps in" in done.output and (tmp_path / "g01" / "guide.pdf").read_bytes().startswith(b"%PDF")
