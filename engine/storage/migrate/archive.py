"""Names for archived columns and tables: outside the metadata namespace, and findable again.

Object and field names match ``^[a-z][a-z0-9_]*$``, so a name starting with ``_archived__``
can never be taken by metadata. The archived name keeps the original name and the time of
archiving (``_archived__fax__20261123104501``), so a field or object that comes back can
find its data, newest archive first. Long names are shortened with a hash so the result
stays within PostgreSQL's 63 characters and the prefix stays the same for one name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

__all__ = ["ARCHIVE_MARK", "archive_name", "archived_versions", "is_archived"]

ARCHIVE_MARK = "_archived__"
_MAX_IDENTIFIER = 63
_STAMP = "%Y%m%d%H%M%S"
_KEEP = _MAX_IDENTIFIER - len(ARCHIVE_MARK) - 2 - len("20260101000000") - 3  # room for "_NN"


def is_archived(name: str) -> bool:
    """Whether ``name`` is an archived column or table."""
    return name.startswith(ARCHIVE_MARK)


def _prefix(name: str) -> str:
    if len(name) <= _KEEP:
        return f"{ARCHIVE_MARK}{name}__"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{ARCHIVE_MARK}{name[: _KEEP - 9]}_{digest}__"


def archive_name(name: str, now: datetime, taken: Iterable[str] = ()) -> str:
    """A fresh archived name for ``name``, different from every name in ``taken``."""
    base = _prefix(name) + now.strftime(_STAMP)
    used = set(taken)
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def archived_versions(name: str, existing: Iterable[str]) -> list[str]:
    """The archived names of ``name`` among ``existing``, newest first."""
    prefix = _prefix(name)
    found = [e for e in existing if e.startswith(prefix) and e[len(prefix) :][:1].isdigit()]

    def order(item: str) -> tuple[str, int]:
        stamp, _, n = item[len(prefix) :].partition("_")
        return stamp, int(n) if n.isdigit() else 1

    return sorted(found, key=order, reverse=True)
