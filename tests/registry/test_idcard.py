"""Citizen ID numbers (GB 11643): the check digit, the birth date, the gender."""

from __future__ import annotations

from datetime import date

import pytest

from services.registry import idcard

TODAY = date(2026, 11, 28)


def test_the_standards_own_example_is_valid_with_check_character_x() -> None:
    parsed = idcard.parse("11010519491231002x", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.gender == "女"  # sequence 002 is even


def test_a_made_number_parses_back_to_its_birth_date_and_gender() -> None:
    number = idcard.make("370402", date(1946, 3, 12), 31)
    parsed = idcard.parse(number, today=TODAY)
    assert (parsed.birth_date, parsed.gender) == (date(1946, 3, 12), "男")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check digit is wrong"),
        ("370402460312031", "old 15-digit number"),
        ("37040219460312031", "must be 18 characters"),
        ("37040219460332031X", "is not a birth date"),
        ("370402203001010316", "not plausible"),
        ("99040219460312031X", "not a province code"),
        ("3704021946031203AB", "17 digits and a digit or X"),
    ],
)
def test_an_invalid_number_says_why(number: str, reason: str) -> None:
    with pytest.raises(idcard.InvalidIdNumber, match=reason):
        idcard.parse(number, today=TODAY)


def test_age_counts_whole_years_to_the_day() -> None:
    born = date(1946, 3, 12)
    assert idcard.age_on(born, date(2026, 3, 11)) == 79
    assert idcard.age_on(born, date(2026, 3, 12)) == 80
