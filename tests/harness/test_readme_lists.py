"""README lists that can drift from the code are checked against it."""
from __future__ import annotations

import re
from pathlib import Path

from fedsim.levels import FAS_ORDER

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_shipped_scenario_and_no_other() -> None:
    listing = re.search(r"Shipped scenarios \((\d+)\): (.*?)\.\n", README, re.DOTALL)
    assert listing, "README lost its « Shipped scenarios (N): … » sentence"
    listed = re.findall(r"`([a-z0-9-]+)`", listing.group(2))
    shipped = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    assert sorted(listed) == shipped, "README's scenario list differs from scenarios/*.yaml"
    assert int(listing.group(1)) == len(shipped)


def test_readme_orders_the_levels_as_the_code_does() -> None:
    order = re.search(r"over (Level\d+(?: < Level\d+)+)", README)
    assert order, "README lost the order of the FAS levels"
    assert order.group(1).split(" < ") == [level.rpartition(":")[2] for level in FAS_ORDER]
