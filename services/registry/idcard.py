"""Citizen ID numbers (公民身份号码, GB 11643-1999): 18 characters.

    6 digits   administrative division of the first registration (e.g. 370402)
    8 digits   birth date YYYYMMDD
    3 digits   sequence; odd for men, even for women
    1 char     check: ISO 7064 MOD 11-2 over the first 17 digits, 0-9 or X

`parse()` gives the birth date and gender, or says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from operator import mul

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ZERO = ord("0") * sum(WEIGHTS)  # the weighted sum of the characters' codes, less this
CHECK = "10X98765432"
# Province-level codes (the first two digits) in GB/T 2260.
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37}
    | {41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
EARLIEST = date(1900, 1, 1)


class InvalidIdNumber(ValueError):
    """The text is not a valid citizen ID number; the message says why."""


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: date
    gender: str  # "男" or "女"


def check_char(first17: str) -> str:
    """The GB 11643 check character for 17 digits."""
    return CHECK[(sum(map(mul, first17.encode("ascii"), WEIGHTS)) - _ZERO) % 11]


def parse(text: str, *, today: date | None = None) -> IdNumber:
    n = text.strip().upper()
    if len(n) == 15 and n.isdigit():
        raise InvalidIdNumber("is an old 15-digit number; give the 18-digit one")
    if len(n) != 18:
        raise InvalidIdNumber(f"must be 18 characters, not {len(n)}")
    if not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        raise InvalidIdNumber("must be 17 digits and a digit or X")
    if int(n[:2]) not in PROVINCES:
        raise InvalidIdNumber(f"{n[:2]} is not a province code")
    try:
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        raise InvalidIdNumber(f"{n[6:14]} is not a birth date") from None
    if born < EARLIEST or born > (today or date.today()):
        raise InvalidIdNumber(f"birth date {born.isoformat()} is not plausible")
    expected = check_char(n[:17])
    if n[17] != expected:
        raise InvalidIdNumber("check digit is wrong")
    return IdNumber(number=n, birth_date=born, gender="男" if int(n[16]) % 2 else "女")


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def make(region: str, born: date, sequence: int) -> str:
    """A valid number (for generators and tests): region, birth date, 3-digit sequence."""
    first17 = f"{region}{born:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_char(first17)
