"""Personal data shown masked by default: phones 3 + 4 asterisks + 4, ID numbers 6 + 8 + 4."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_id_number(number: str) -> str:
    n = number.strip()
    if len(n) != 18:
        return "*" * len(n)
    return n[:6] + "*" * 8 + n[-4:]


def mask_name(name: str) -> str:
    """The family name (first character) and one asterisk per other character: 张** ."""
    n = name.strip()
    if len(n) <= 1:
        return "*" * len(n)
    return n[0] + "*" * (len(n) - 1)
