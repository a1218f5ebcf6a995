"""The ``metacrm`` command line.

Exit codes: 0 success, 1 metadata errors, 2 usage errors (typer's own).
"""

from __future__ import annotations

import typer

from engine.cli import (
    migrate_commands,
    pack_commands,
    serve_commands,
    user_commands,
    worker_commands,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="metacrm",
    help="metacrm: declare a CRM in metadata; validate, inspect and run it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
pack_commands.register(app)
user_commands.register(app)
migrate_commands.register(app)
serve_commands.register(app)
worker_commands.register(app)
from engine.cli import transfer_commands  # noqa: E402  (import/export)

transfer_commands.register(app)

from engine.cli import approval_commands  # noqa: E402  (needs transfer_commands)

approval_commands.register(app)


def main() -> None:
    app()
