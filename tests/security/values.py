"""Values for the suite's records: plain fillers, and the secrets a probe must not tell apart.

Secrets come four to a field, ``w1 < w2 < w3 < w4``, valid for the field's type and all
masked alike (same length, same first letters and last digits, same province), so what a
masked read shows is the same for each. Run A writes ``(w1, w3)`` into the two records,
run B ``(w4, w2)``: every comparison, prefix, suffix, substring and sort order on the field
answers differently for the two runs to whoever may read the field, and both are filled.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from metadata import ResolvedSchema
from metadata.model.fields import FieldType

_FUTURE = (dt.date.today() + dt.timedelta(days=400)).isoformat()
_SOON = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0).isoformat()


def _vin(n: int) -> str:
    """A vehicle identification number with its ISO 3779 check digit (a text of 17
    characters is most often one)."""
    letters = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ"  # index mod 10: the value
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    draft = f"LSVAU2180N2{n % 10**6:06d}"
    total = sum(w * (letters.index(c) % 10) for w, c in zip(weights, draft, strict=True))
    return draft[:8] + ("X" if total % 11 == 10 else str(total % 11)) + draft[9:]


def choices(schema: ResolvedSchema, fdef: Any) -> list[str]:
    """A picklist's active codes, in the order declared."""
    values = fdef.values or (schema.value_sets[fdef.value_set].values if fdef.value_set else [])
    out = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif value.active:
            out.append(value.value)
    return out


#: A text secret's shapes, tried in turn against the field's length and pattern: a name,
#: an 18- and a 12-digit identifier, a code.
_TEXT_SHAPES = ["Lin Abbbb", "110" + "1" * 11 + "1234", "110" + "1" * 5 + "1234", "KABBBB1234"]


def _fits(fdef: Any, text: str) -> bool:
    limit = getattr(fdef, "max_length", None)
    pattern = getattr(fdef, "pattern", None)
    if limit is not None and len(text) > limit:
        return False
    return pattern is None or re.fullmatch(pattern, text) is not None


def _four_texts(fdef: Any) -> list[str] | None:
    for shape in _TEXT_SHAPES:
        if not _fits(fdef, shape):
            continue
        if shape.startswith("Lin A"):  # a name: first letter of each word shows
            return [f"Lin A{c * 4}" for c in "bcde"]
        if shape.startswith("KA"):
            return [f"KA{c * 4}1234" for c in "BCDE"]
        middle = len(shape) - 7  # an identifier: first 3 and last 4 show
        return [f"110{d * middle}1234" for d in "1234"]
    return None


def secret_four(schema: ResolvedSchema, fdef: Any) -> list[Any] | None:
    """Four values of ``fdef`` masked alike, in increasing order; None when the suite cannot
    vary this type (links, files: their values are records and blobs of their own)."""
    kind = fdef.kind
    if kind in (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.RICH_TEXT):
        return _four_texts(fdef)
    if kind is FieldType.EMAIL:
        return [f"l{c * 4}@example.cn" for c in "bcde"]
    if kind is FieldType.PHONE:
        return [f"+86138{d * 4}5678" for d in "1234"]
    if kind is FieldType.URL:
        return [f"https://example.cn/{c * 4}/page" for c in "bcde"]
    if kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.CURRENCY, FieldType.PERCENT):
        low = fdef.min_value if fdef.min_value is not None else 0
        numbers = [low + 1, low + 2, low + 3, low + 4]
        high = fdef.max_value
        return numbers if high is None or numbers[-1] <= high else None
    if kind is FieldType.DATE:
        return ["1980-01-02", "1982-03-04", "1984-05-06", "1986-07-08"]
    if kind is FieldType.DATETIME:
        return [f"2021-0{m}-01T08:00:00+00:00" for m in "1234"]
    if kind is FieldType.TIME:
        return ["08:00", "09:00", "10:00", "11:00"]
    if kind is FieldType.BOOLEAN:
        return [False, False, True, True]
    if kind is FieldType.PICKLIST:
        codes = choices(schema, fdef)
        if len(codes) >= 4:
            return codes[:4]
        return [codes[0], codes[0], codes[1], codes[1]] if len(codes) >= 2 else None
    if kind is FieldType.MULTI_PICKLIST:
        codes = choices(schema, fdef)
        return [[c] for c in (codes * 4)[:4]] if len(codes) >= 2 else None
    if kind is FieldType.ADDRESS:
        part = next(
            (p for p in ("street", "district", "postal_code") if p in fdef.components), None
        )
        if part is None:
            return None
        keep = {k: "上海市" for k in ("province", "city") if k in fdef.components}
        return [{**keep, part: f"{c * 4}路{i}号" if part != "postal_code" else f"20000{i}"}
                for i, c in enumerate("bcde", 1)]  # fmt: skip
    if kind is FieldType.JSON:
        return [{"k": c} for c in "bcde"]
    if kind is FieldType.GEOLOCATION:
        return [{"lat": 31.0 + i / 10, "lng": 121.0} for i in range(4)]
    return None


def runs(four: list[Any]) -> dict[str, tuple[Any, Any]]:
    """The values of the two records in run A and run B."""
    return {"A": (four[0], four[2]), "B": (four[3], four[1])}


def filler(schema: ResolvedSchema, fdef: Any, n: int) -> list[Any]:
    """Candidates for a field the suite fills only to make a record valid (``n`` keeps
    unique fields apart), most plausible first."""
    kind = fdef.kind
    if kind in (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.RICH_TEXT):
        shapes = [f"F{n:06d}x", f"1{n:017d}", f"1{n:011d}", f"{n:08d}", f"K{n}", _vin(n)]
        return [s for s in shapes if _fits(fdef, s)] or [f"F{n}"]
    if kind is FieldType.EMAIL:
        return [f"u{n}@example.cn"]
    if kind is FieldType.PHONE:
        return [f"+86139{n:08d}"]
    if kind is FieldType.URL:
        return [f"https://example.cn/{n}"]
    if kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.CURRENCY, FieldType.PERCENT):
        low = fdef.min_value if fdef.min_value is not None else 0
        high = fdef.max_value
        found = [v for v in (max(low, 1), 12, 24, low, 100) if high is None or v <= high]
        return list(dict.fromkeys(found))
    if kind is FieldType.DATE:
        return ["2024-06-15", _FUTURE]
    if kind is FieldType.DATETIME:
        return [_SOON, "2024-06-15T08:00:00+00:00"]
    if kind is FieldType.TIME:
        return ["09:00"]
    if kind is FieldType.BOOLEAN:
        return [False, True]
    if kind is FieldType.PICKLIST:
        return choices(schema, fdef)
    if kind is FieldType.MULTI_PICKLIST:
        return [[c] for c in choices(schema, fdef)[:1]]
    if kind is FieldType.ADDRESS:
        full = {"country": "中国", "province": "上海市", "city": "上海市", "district": "浦东新区",
                "street": "世纪大道1号", "postal_code": "200120"}  # fmt: skip
        return [{k: v for k, v in full.items() if k in fdef.components}]
    if kind is FieldType.JSON:
        return [{}]
    if kind is FieldType.GEOLOCATION:
        return [{"lat": 31.2, "lng": 121.5}]
    return []
