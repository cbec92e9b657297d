"""``fedsim attack sp``: in-process against our SPs, reports written."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from click.testing import CliRunner

from fedsim_harness.cli import cli


def test_attack_sp_lists_the_cases() -> None:
    result = CliRunner().invoke(cli, ["attack", "sp", "modigia", "--list", "--group", "xml"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("baseline")
    assert "billion-laughs" in result.output


def test_attack_sp_lists_the_encryption_group() -> None:
    result = CliRunner().invoke(cli, ["attack", "sp", "modigia", "--list", "--group", "encryption"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("baseline")
    assert all(" encryption " in line for line in lines[1:]), result.output
    assert any(line.startswith("encrypted-aes128-cbc") for line in lines)


def test_attack_sp_modigia_in_process_writes_junit(tmp_path: Path) -> None:
    junit = tmp_path / "attack.xml"
    result = CliRunner().invoke(cli, ["attack", "sp", "modigia", "--case", "xsw3", "--case", "audience-other",
                                      "--junit", str(junit), "--json", str(tmp_path / "attack.json")])
    assert result.exit_code == 0, result.output
    assert "PASS: 3 cases" in result.output
    suite = ET.parse(junit).getroot()
    assert [c.get("name") for c in suite.iter("testcase")] == ["baseline", "xsw3", "audience-other"]
    assert (tmp_path / "attack.json").exists()


def test_attack_sp_refuses_an_unknown_sp_without_urls() -> None:
    result = CliRunner().invoke(cli, ["attack", "sp", "https://unknown.example/sp"])
    assert result.exit_code == 2
    assert "--login" in result.output


def test_attack_sp_refuses_an_unknown_case() -> None:
    result = CliRunner().invoke(cli, ["attack", "sp", "modigia", "--case", "nope"])
    assert result.exit_code == 2
