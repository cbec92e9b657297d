"""A generated block of README.md: the text between two HTML comment
markers, which a command writes and a test compares with what it generates
(fedsim_harness.attribute_table, fedsim_harness.persona_table)."""
from __future__ import annotations


def between(text: str, start: str, end: str) -> str:
    """The block from ``start`` to ``end``, markers included ("" when ``text`` has none)."""
    if start not in text or end not in text:
        return ""
    return text[text.index(start):text.index(end) + len(end)]
