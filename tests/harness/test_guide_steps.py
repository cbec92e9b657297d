"""The illustrated guide's text (fedsim_harness/guide/data/steps.yaml): every
guide step G01…G26 is explained in French and shown by some scenario step,
and the guide follows the connection guide's order."""
from __future__ import annotations

from pathlib import Path

import pytest

from fedsim_harness.guide.steps import (
    GUIDE_IDS,
    STEPS_FILE,
    GuideError,
    load_book,
    parse_ids,
    plan,
    sources,
)
from fedsim_harness.scenario import model

SCENARIOS = model.load_all(Path(__file__).resolve().parents[2] / "scenarios")


def test_every_guide_step_has_a_title_and_an_explanation_of_two_to_four_sentences() -> None:
    book = load_book()
    assert [step.id for step in book.steps] == list(GUIDE_IDS)  # the connection guide's order
    for step in book.steps:
        sentences = [s for s in step.explanation.replace("?", ".").replace("!", ".").split(". ") if s.strip()]
        assert step.title and 2 <= len(sentences) <= 4, f"{step.id}: {step.explanation!r}"


def test_every_guide_step_has_a_scenario_step_to_take_its_screenshot_from() -> None:
    book = load_book()
    found = sources(book, SCENARIOS)
    assert sorted(found) == list(GUIDE_IDS)
    for capture in plan(book, SCENARIOS):
        assert capture.guide_id in capture.scenario.steps[capture.index].guide
    assert {s.name for s in SCENARIOS} >= set(book.scenario_order)


def test_the_main_journey_gives_the_first_screens_and_the_email_is_shown_itself() -> None:
    captures = {c.guide_id: c for c in plan(load_book(), SCENARIOS)}
    assert captures["G01"].scenario.name == "eid-first-login" and captures["G01"].index == 0
    assert captures["G24"].mail and captures["G24"].scenario.steps[captures["G24"].index].action == "mail_link"
    assert captures["G20"].scenario.name == "bel-foreign-national"


def test_no_two_guide_steps_show_the_same_picture() -> None:
    """Each step has its own screen: a picture is (scenario, step, taken
    before or after it); G13 shows the ⋮ menu open, just before « Démarrer
    la démarche » is chosen, and G14 the page that choice leads to."""
    captures = plan(load_book(), SCENARIOS)
    pictures = {}
    for capture in captures:
        picture = (capture.scenario.name, capture.index, capture.mail or capture.reveal)
        assert picture not in pictures, f"{capture.guide_id} shows the same picture as {pictures[picture]}"
        pictures[picture] = capture.guide_id
    by_id = {c.guide_id: c for c in captures}
    assert by_id["G13"].reveal and by_id["G13"].scenario.steps[by_id["G13"].index].action == "click"
    assert (by_id["G14"].scenario.name, by_id["G14"].index) == (by_id["G13"].scenario.name, by_id["G13"].index)


def test_at_names_a_step_that_is_not_there(tmp_path: Path) -> None:
    text = STEPS_FILE.read_text(encoding="utf-8").replace(
        "at: Parcourir toutes les pages des CGU", "at: Une étape qui n'existe pas")
    (tmp_path / "steps.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(GuideError, match="G15: no step of the scenario eid-first-login .* « Une étape qui n'existe pas"):
        plan(load_book(tmp_path / "steps.yaml"), SCENARIOS)


def test_a_step_no_scenario_names_is_refused_by_name() -> None:
    only_g01 = [s for s in SCENARIOS if s.name == "eid-first-login"]
    with pytest.raises(GuideError, match="no scenario step names G04"):
        plan(load_book().only(["G01", "G04"]), only_g01)


def test_an_unexplained_step_is_refused(tmp_path: Path) -> None:
    text = STEPS_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "steps.yaml"
    broken.write_text(text.replace("  G07:\n    title:", "  G07:\n    nothing: x\n    old_title:"), encoding="utf-8")
    with pytest.raises(GuideError, match="G07 has no title or no explanation"):
        load_book(broken)


@pytest.mark.parametrize(("text", "ids"), [("G01,G03", ["G01", "G03"]), ("g01-g03", ["G01", "G02", "G03"]),
                                           ("G24-G26, G01", ["G24", "G25", "G26", "G01"])])
def test_steps_option(text: str, ids: list[str]) -> None:
    assert parse_ids(text) == ids


@pytest.mark.parametrize("text", ["G27", "G1", "G01-X"])
def test_steps_option_refuses_what_is_not_a_step(text: str) -> None:
    with pytest.raises(GuideError):
        parse_ids(text)
