"""Belgian national register (NRN) and BIS numbers: the checksum rule, the
2000+ century rule, the BIS month offsets, formatting and refusals; and the
personas shipped with the simulator carry valid numbers."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from fedsim import nrn, personas


def expected_check(first_nine: str, born_2000_or_later: bool) -> str:
    """The published rule, restated independently of fedsim.nrn."""
    base = int(("2" if born_2000_or_later else "") + first_nine)
    return f"{97 - base % 97:02d}"


def valid(first_nine: str, born_2000_or_later: bool = False) -> str:
    return first_nine + expected_check(first_nine, born_2000_or_later)


# -- the checksum ----------------------------------------------------------


def test_check_digits_before_2000_worked_example() -> None:
    # 850312154 mod 97 = 66, 97 - 66 = 31
    assert nrn.check_digits("850312154", False) == "31"
    number = nrn.parse("85031215431")
    assert number.birth_date == date(1985, 3, 12)
    assert not number.is_bis


def test_born_2000_or_later_uses_the_2_prefix() -> None:
    # 2031105217 mod 97 = 4 -> 93; without the prefix it would be 64 (1903).
    assert nrn.check_digits("031105217", True) == "93"
    assert nrn.check_digits("031105217", False) == "64"
    assert nrn.parse("03.11.05-217-93").birth_date == date(2003, 11, 5)
    assert nrn.parse("03.11.05-217-64").birth_date == date(1903, 11, 5)


@pytest.mark.parametrize("born", [date(2000, 1, 1), date(2000, 2, 29), date(2009, 12, 31), date(1999, 12, 31),
                                  date(1900, 1, 1), date(1968, 7, 14)])
def test_make_and_parse_round_trip(born: date) -> None:
    digits = nrn.make(born, 42)
    assert digits[9:] == expected_check(digits[:9], born.year >= 2000)
    parsed = nrn.parse(digits)
    assert parsed.birth_date == born
    assert parsed.sex == "F"
    assert not parsed.is_bis


def test_remainder_zero_gives_97() -> None:
    first_nine = next(f"{n:09d}" for n in range(970101001, 970101999) if n % 97 == 0)
    assert nrn.check_digits(first_nine, False) == "97"
    assert nrn.is_valid(first_nine + "97")


def test_serial_parity_gives_sex() -> None:
    assert nrn.parse(nrn.make(date(1990, 5, 17), 1)).sex == "M"
    assert nrn.parse(nrn.make(date(1990, 5, 17), 997)).sex == "M"
    assert nrn.parse(nrn.make(date(1990, 5, 17), 2)).sex == "F"
    assert nrn.parse(nrn.make(date(1990, 5, 17), 998)).sex == "F"


# -- BIS numbers -----------------------------------------------------------


def test_bis_sex_known_adds_40_to_the_month() -> None:
    digits = nrn.make(date(1985, 3, 12), 153, bis="sex-known")
    assert digits == valid("854312153") == "85431215321"
    parsed = nrn.parse(digits)
    assert parsed.is_bis and parsed.sex == "M" and parsed.birth_date == date(1985, 3, 12)


def test_bis_sex_unknown_adds_20_to_the_month() -> None:
    digits = nrn.make(date(1985, 3, 12), 153, bis="sex-unknown")
    assert digits == valid("852312153")
    parsed = nrn.parse(digits)
    assert parsed.is_bis and parsed.sex is None and parsed.birth_date == date(1985, 3, 12)


def test_bis_born_2000_or_later() -> None:
    digits = nrn.make(date(2004, 12, 1), 310, bis="sex-known")
    assert digits == valid("045201310", True)
    parsed = nrn.parse(digits)
    assert parsed.is_bis and parsed.sex == "F" and parsed.birth_date == date(2004, 12, 1)


@pytest.mark.parametrize("month, sex", [("40", "M"), ("20", None)])
def test_bis_with_unknown_birth_month(month: str, sex: str | None) -> None:
    """A BIS number for someone whose birth month is unknown: month 00 + 40 / + 20."""
    parsed = nrn.parse(valid(f"71{month}00123"))
    assert parsed.is_bis
    assert parsed.birth_date is None
    assert parsed.sex == sex


@pytest.mark.parametrize("month", ["13", "19", "33", "39", "53", "99"])
def test_month_outside_every_range_refused(month: str) -> None:
    with pytest.raises(nrn.InvalidNRN):
        nrn.parse(valid(f"85{month}12153"))


# -- formatting ------------------------------------------------------------


def test_formatted_and_separators() -> None:
    assert nrn.parse("85031215431").formatted == "85.03.12-154-31"
    assert nrn.parse("85.03.12-154.31").digits == "85031215431"
    assert nrn.parse(" 85 03 12 154 31 ").digits == "85031215431"
    assert re.fullmatch(r"\d\d\.\d\d\.\d\d-\d{3}-\d\d", nrn.parse(nrn.make(date(2001, 2, 3), 5)).formatted)


# -- refusals --------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "85.03.12-154-32",        # check digits off by one
    "85031215413",            # digits swapped
    "8503121543",             # 10 digits
    "850312154311",           # 12 digits
    "",
    "abcdefghijk",
])
def test_bad_numbers_refused(text: str) -> None:
    with pytest.raises(nrn.InvalidNRN):
        nrn.parse(text)
    assert not nrn.is_valid(text)


def test_none_refused() -> None:
    with pytest.raises(nrn.InvalidNRN):
        nrn.parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("serial", ["000", "999"])
def test_serial_000_and_999_refused_even_with_good_check_digits(serial: str) -> None:
    for born_2000 in (False, True):
        with pytest.raises(nrn.InvalidNRN, match="serial"):
            nrn.parse(valid(f"850312{serial}", born_2000))


@pytest.mark.parametrize("serial", [0, 999, -1, 1000])
def test_make_refuses_bad_serial(serial: int) -> None:
    with pytest.raises(nrn.InvalidNRN):
        nrn.make(date(1985, 3, 12), serial)


@pytest.mark.parametrize("first_nine", ["850230154", "850431154", "851301154", "010229154"])
def test_impossible_birth_date_refused(first_nine: str) -> None:
    # 30 February, 31 April, month 13, 29 February 1901 (not a leap year)
    with pytest.raises(nrn.InvalidNRN):
        nrn.parse(valid(first_nine))


# -- personas --------------------------------------------------------------


def test_every_persona_has_a_valid_number() -> None:
    people = personas.load()
    assert people, "no personas shipped"
    for persona in people:
        assert re.fullmatch(r"\d{11}", persona.nrn), persona.id
        parsed = nrn.parse(persona.nrn)
        assert parsed.digits[9:] == expected_check(parsed.digits[:9], parsed.birth_date.year >= 2000), persona.id
        assert persona.nrn_formatted == parsed.formatted
    assert len({p.nrn for p in people}) == len(people), "two personas share a number"


def test_a_persona_is_born_in_2000_or_later() -> None:
    born = [nrn.parse(p.nrn).birth_date for p in personas.load()]
    assert any(b is not None and b.year >= 2000 for b in born)


def test_persona_file_with_an_invalid_number_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "personas.yaml"
    bad.write_text('personas:\n  - {id: x, given_name: X, surname: Y, nrn: "85.03.12-154-32", '
                   'email: x@example.be}\n', encoding="utf-8")
    with pytest.raises(personas.PersonaFileError, match=r"persona 'x' \(#1\), field nrn: .*check digits"):
        personas.load(bad)
