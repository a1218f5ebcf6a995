"""Every extension point a plugin can implement, in one place (pluggy hook specifications).

Plugins are Python distributions with an entry point in group ``metacrm.plugins``; each
implements some of these with ``@hookimpl``.
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "metacrm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def metacrm_before_write(event: Any) -> None:
    """Called inside the write's transaction, before the SQL write (step 6).

    ``event.operation`` is create/update/delete, ``event.record`` the row about to be
    written (changes may be made to it). Raising aborts the whole transaction; the error
    names the plugin.
    """


@hookspec
def metacrm_after_commit(event: Any) -> None:
    """Called after the transaction committed (step 10), from the outbox: ``event.record``
    (and ``event.old`` on updates) is the record as JSON data. A hook that raises is
    retried later (``metacrm worker``), and then every hook sees the event again:
    delivery is at least once, so make the hook tolerate repeats."""
