"""fedsim.web: the one ``safe_next`` every app uses for redirect targets
taken from a request, checked against generated inputs the way a browser
would resolve them."""
from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import pytest
from hypothesis import example, given, settings, strategies as st

from fedsim.web import safe_next

BASE = "http://localhost:5000/page"
DEFAULT = "/default"
ATTACKS = ["//evil.example/", "/%09/evil.example/", "/\\evil.example", "/%5cevil.example", "\\\\evil.example",
           "/%0a/evil.example", "https://evil.example/", "javascript:alert(1)", "/\t/evil.example",
           "/%2f/evil.example", "/%252f%252fevil.example", " //evil.example", "/\u2028/evil.example",
           "http:/evil.example", "/\x00//evil.example", "evil.example"]


def browser_variants(url: str) -> list[str]:
    """How a browser may read a Location: as is, tabs and newlines dropped,
    backslashes as slashes, and the same once (twice) percent-decoded."""
    out = []
    for candidate in (url, unquote(url), unquote(unquote(url))):
        stripped = "".join(ch for ch in candidate if ch not in "\t\n\r").strip("\x00 ")
        out += [candidate, stripped, stripped.replace("\\", "/")]
    return out


def stays_here(url: str) -> bool:
    return all(urlsplit(urljoin(BASE, v)).netloc == "localhost:5000" for v in browser_variants(url))


@pytest.mark.parametrize("attack", ATTACKS)
def test_known_attacks_give_the_default(attack: str) -> None:
    assert safe_next(attack, DEFAULT) == DEFAULT


@pytest.mark.parametrize("path", ["/", "/tableau-de-bord", "/demarches/?q=a%20b&page=2", "/a/b#c", "/é"])
def test_local_paths_are_kept(path: str) -> None:
    assert safe_next(path, DEFAULT) == path


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="/\\%09aAcC:.@?#\t\n 5fe", max_size=20),
                 st.builds(lambda a, b: a + b, st.sampled_from(["/", "//", "/%", "\\", "/%2", "http:"]), st.text())))
@example("/%09/evil.example/")
def test_any_string_gives_the_default_or_a_local_path(url: str) -> None:
    result = safe_next(url, DEFAULT)
    assert result == DEFAULT or (result == url and result.startswith("/") and stays_here(result))
