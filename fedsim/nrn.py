"""Belgian national register numbers (NRN, rijksregisternummer) and BIS numbers.

Format ``YYMMDDSSSCC``: birth date, a serial (odd for men, even for women) and
check digits ``97 - (first nine digits mod 97)``, computed on ``"2" + first
nine`` for people born in 2000 or later. BIS numbers add 40 (sex known) or 20
(sex unknown) to the month.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_DIGITS = re.compile(r"\D")


class InvalidNRN(ValueError):
    """The number is not a well-formed national register or BIS number."""


@dataclass(frozen=True)
class NationalNumber:
    digits: str
    birth_date: date | None
    is_bis: bool
    sex: str | None  # "M", "F" or None when a BIS number leaves it unknown

    @property
    def formatted(self) -> str:
        d = self.digits
        return f"{d[0:2]}.{d[2:4]}.{d[4:6]}-{d[6:9]}-{d[9:11]}"


def check_digits(first_nine: str, born_2000_or_later: bool) -> str:
    base = int(("2" if born_2000_or_later else "") + first_nine)
    return f"{97 - base % 97:02d}"


def make(birth_date: date, serial: int, *, bis: str | None = None) -> str:
    """Build a valid number. ``bis`` is None, ``"sex-known"`` or ``"sex-unknown"``."""
    if not 1 <= serial <= 998:
        raise InvalidNRN(f"serial must be 001-998, got {serial}")
    month = birth_date.month + {None: 0, "sex-known": 40, "sex-unknown": 20}[bis]
    first_nine = f"{birth_date:%y}{month:02d}{birth_date:%d}{serial:03d}"
    return first_nine + check_digits(first_nine, birth_date.year >= 2000)


def parse(text: str) -> NationalNumber:
    """Validate a number typed with or without separators."""
    digits = _DIGITS.sub("", text or "")
    if len(digits) != 11:
        raise InvalidNRN("a national register number has 11 digits")
    first_nine, given = digits[:9], digits[9:]
    if given == check_digits(first_nine, False):
        century = 1900
    elif given == check_digits(first_nine, True):
        century = 2000
    else:
        raise InvalidNRN("the check digits do not match")
    month = int(digits[2:4])
    is_bis, sex_known = month > 12, True
    if month >= 40:  # 40 itself: BIS, sex known, birth month unknown
        month -= 40
    elif month >= 20:
        month, sex_known = month - 20, False
    serial = int(digits[6:9])
    if not 1 <= serial <= 998:
        raise InvalidNRN("the serial number must be between 001 and 998")
    try:
        born = date(century + int(digits[0:2]), month, int(digits[4:6])) if month else None
    except ValueError as exc:
        raise InvalidNRN(f"the birth date is not a date: {exc}") from None
    sex = ("M" if serial % 2 else "F") if sex_known else None
    return NationalNumber(digits=digits, birth_date=born, is_bis=is_bis, sex=sex)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except InvalidNRN:
        return False
    return True
