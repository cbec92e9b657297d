"""The shared error page's texts that CSAM translates (idp_csam/shared_texts.py)
are those of fedsim.web and its template: a text changed there without
changing it here would silently stay French in CSAM."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from idp_csam.shared_texts import ERROR_PAGE

ROOT = Path(__file__).resolve().parents[3]


def _translated_in_web() -> set[str]:
    tree = ast.parse((ROOT / "fedsim" / "web.py").read_text())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "translated"
            and node.args and isinstance(node.args[0], ast.Constant)}


def test_every_text_that_fedsim_web_translates_is_in_csams_list() -> None:
    web = _translated_in_web()
    assert web, "fedsim.web translates nothing any more?"
    assert sorted(web - set(ERROR_PAGE)) == []


def test_the_default_title_and_every_listed_text_are_fedsim_webs() -> None:
    source = (ROOT / "fedsim" / "web.py").read_text()
    default_title = re.search(r'title: str = "([^"]+)"', source).group(1)
    assert sorted(set(ERROR_PAGE) - _translated_in_web() - {default_title}) == []
