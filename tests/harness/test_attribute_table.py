"""README's tables of what CSAM and Cerbère send are generated from real
logins (fedsim_harness.attribute_table): they must be exactly what the
federation sends today."""
from __future__ import annotations

from pathlib import Path

from fedsim_harness import attribute_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_holds_exactly_what_csam_and_cerbere_send() -> None:
    held = attribute_table.readme_block(README.read_text(encoding="utf-8"))
    assert held, f"README.md has no block between « {attribute_table.START} » and « {attribute_table.END} »"
    observed = attribute_table.observe()

    assert list(observed.csam_by_key) == list(attribute_table.KEY_SCENARIOS)  # every CSAM key was seen
    assert set(observed.cerbere_by_context) == {"Citoyen", "Membre du personnel de l'enseignement",
                                                "Pouvoir organisateur"}
    assert held == attribute_table.markdown(observed), (
        "README.md's attribute tables are out of date: run `fedsim attributes --write README.md`")
