"""The illustrated connection guide (``fedsim guide build``): the guide's
steps in French (``data/steps.yaml``), each with a screenshot taken in Chromium
from the scenario step that shows it, as HTML and PDF."""
from __future__ import annotations

from fedsim_harness.guide.build import BuiltGuide, build_guide
from fedsim_harness.guide.steps import GuideError, load_book, parse_ids

__all__ = ["BuiltGuide", "GuideError", "build_guide", "load_book", "parse_ids"]
