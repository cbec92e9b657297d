"""README's table of personas is generated from the personas file: it must
hold exactly what `fedsim personas --markdown` prints for the shipped ones."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fedsim import personas
from fedsim_harness import persona_table
from fedsim_harness.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_holds_the_table_of_the_shipped_personas(monkeypatch) -> None:
    monkeypatch.delenv(personas.ENV_VARIABLE, raising=False)
    held = persona_table.readme_block(README.read_text(encoding="utf-8"))
    assert held, f"README.md has no block between « {persona_table.START} » and « {persona_table.END} »"
    printed = CliRunner().invoke(cli, ["personas", "--markdown"])
    assert printed.exit_code == 0, printed.output
    assert held == printed.output.strip() == persona_table.markdown(personas.load()), (
        "README.md's table of personas is out of date: paste `fedsim personas --markdown` into it")
    for person in personas.load():
        assert f"| {person.id} |" in held
