"""Vehicle identification numbers (ISO 3779 / GB 16735) for demo vehicles.

A VIN is 17 characters from digits and capital letters without I, O and Q: the maker
(WMI, 3), the vehicle description (VDS, 5), the check digit (9th), the model year (10th),
the plant (11th) and a serial number (6). The check digit is the sum of each character's
value (digits as they are; letters by the transliteration table) times the weight of its
position, mod 11, with 10 written X — the computation of the auto pack's
``vin_check_digit`` rule.
"""

from __future__ import annotations

__all__ = ["VIN_CHARACTERS", "check_digit", "make_vin", "model_year_code"]

VIN_CHARACTERS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_TRANSLITERATION = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ"  # index mod 10 is the value
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_YEARS = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 = A … 2030 = Y, then 2031 = 1 …


def check_digit(vin: str) -> str:
    """The check digit a 17-character VIN must carry in position 9 (its own 9th
    character does not count: its weight is 0)."""
    if len(vin) != 17 or any(c not in VIN_CHARACTERS for c in vin):
        raise ValueError(f"not a VIN: {vin!r}")
    total = sum(w * (_TRANSLITERATION.index(c) % 10) for w, c in zip(_WEIGHTS, vin, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def model_year_code(year: int) -> str:
    """The 10th character for a model year (the 30-year cycle from 2010)."""
    return _YEARS[(year - 2010) % 30]


def make_vin(wmi: str, vds: str, year: int, plant: str, serial: int) -> str:
    """A valid VIN: ``wmi`` (3), ``vds`` (5), check digit, model year, ``plant`` (1) and
    ``serial`` (6 digits)."""
    if len(wmi) != 3 or len(vds) != 5 or len(plant) != 1 or not 0 <= serial < 10**6:
        raise ValueError("a VIN has a 3-character WMI, a 5-character VDS and a 6-digit serial")
    draft = f"{wmi}{vds}0{model_year_code(year)}{plant}{serial:06d}"
    return draft[:8] + check_digit(draft) + draft[9:]
