"""Commands for administrators: ``metacrm users ...`` and ``metacrm tokens ...``.

Passwords are never taken as command-line arguments (they would show in ``ps`` and
shell history): they are prompted for without echo, or read from stdin with
``--password-stdin`` for scripts. A new API token is printed once, alone on stdout, so
``TOKEN=$(metacrm tokens create ...)`` captures it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.auth import (
    AuthError,
    TokenStore,
    UserStore,
    ensure_auth_tables,
)
from engine.storage.database import Database

__all__ = ["register"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

users_app = typer.Typer(help="Manage the people who sign in.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage personal API tokens.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="METACRM_DATABASE_URL",
        help="SQLAlchemy URL; default: metacrm.sqlite3 in the working directory.",
    ),
]
Username = Annotated[str, typer.Argument(help="The username (case-insensitive).")]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")


@users_app.command("create")
def create_user(
    username: Username,
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    role: Annotated[list[str], typer.Option("--role", help="A role; repeat for several.")],
    org_unit: Annotated[str | None, typer.Option("--org-unit", help="Org unit id.")] = None,
    also_in: Annotated[
        list[str] | None,
        typer.Option("--also-in", help="Another org unit id the user belongs to; repeatable."),
    ] = None,
    locale: Annotated[str, typer.Option("--locale")] = "zh-CN",
    timezone: Annotated[str, typer.Option("--timezone")] = "Asia/Shanghai",
    email: Annotated[str | None, typer.Option("--email")] = None,
    password_stdin: PasswordStdin = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="A user who signs in with API tokens only.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a user who can sign in."""
    with _reporting_errors():
        users, _ = _stores(database_url)
        password = None if no_password else _read_password(password_stdin)
        user = users.create_user(
            username, password, name, role, org_unit=org_unit, locale=locale,
            timezone=timezone, email=email,
        )  # fmt: skip
        if also_in:
            users.set_extra_org_units(user.username, also_in)
    out.print(f"[green]✓[/green] created user {user.username} ({user.id})")


@users_app.command("list")
def list_users(database_url: DatabaseUrl = None) -> None:
    """Show every user."""
    with _reporting_errors():
        users, _ = _stores(database_url)
        table = Table("username", "name", "roles", "org unit", "locale", "status", "created")
        for user in users.list_users():
            table.add_row(
                user.username, user.display_name, ", ".join(user.roles), user.org_unit or "",
                user.locale, "disabled" if user.disabled else "active", _when(user.created_at),
            )  # fmt: skip
    out.print(table)


@users_app.command("disable")
def disable_user(username: Username, database_url: DatabaseUrl = None) -> None:
    """Stop a user signing in; ends their sessions and suspends their API tokens."""
    with _reporting_errors():
        user = _stores(database_url)[0].disable(username)
    out.print(f"[green]✓[/green] disabled {user.username}")


@users_app.command("enable")
def enable_user(username: Username, database_url: DatabaseUrl = None) -> None:
    """Let a disabled user sign in again (their unrevoked API tokens work again)."""
    with _reporting_errors():
        user = _stores(database_url)[0].enable(username)
    out.print(f"[green]✓[/green] enabled {user.username}")


@users_app.command("set-password")
def set_password(
    username: Username, password_stdin: PasswordStdin = False, database_url: DatabaseUrl = None
) -> None:
    """Replace a user's password; ends all their sessions."""
    with _reporting_errors():
        users, _ = _stores(database_url)
        users.require(username)
        users.set_password(username, _read_password(password_stdin))
    out.print(f"[green]✓[/green] password changed for {username}")


@tokens_app.command("create")
def create_token(
    username: Username,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="records:read, records:write, metadata:read or admin."),
    ],
    days: Annotated[int | None, typer.Option("--days", help="Expire after D days.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue an API token; it is printed once and cannot be shown again."""
    with _reporting_errors():
        users, tokens = _stores(database_url)
        plaintext, info = tokens.create(users.require(username), name, scope, days)
    err.print(
        f"token {info.prefix}… ({info.id}) for {username}: copy it now, it is not shown again"
    )
    print(plaintext)


@tokens_app.command("list")
def list_tokens(username: Username, database_url: DatabaseUrl = None) -> None:
    """Show a user's tokens (prefixes only; secrets are never stored)."""
    with _reporting_errors():
        users, tokens = _stores(database_url)
        now = users.clock()
        table = Table("prefix", "name", "scopes", "created", "expires", "last used", "status")
        table.add_column("id", no_wrap=True)  # last and whole: people copy it to revoke
        for t in tokens.list_tokens(users.require(username)):
            status = "revoked" if t.revoked_at else ("active" if t.active(now) else "expired")
            table.add_row(
                t.prefix, t.name, " ".join(t.scopes), _when(t.created_at),
                _when(t.expires_at), _when(t.last_used_at), status, t.id,
            )  # fmt: skip
    out.print(table)


@tokens_app.command("revoke")
def revoke_token(
    ref: Annotated[str, typer.Argument(help="The token's id or displayed prefix.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token at once, on every server."""
    with _reporting_errors():
        info = _stores(database_url)[1].revoke(ref)
    out.print(f"[green]✓[/green] revoked {info.prefix}… ({info.name})")


def _stores(database_url: str | None) -> tuple[UserStore, TokenStore]:
    db = Database(database_url)
    users = UserStore(db, ensure_auth_tables(db))
    return users, TokenStore(users)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@contextmanager
def _reporting_errors() -> Iterator[None]:
    """Print an auth error in the operator's language and exit 1."""
    try:
        yield
    except AuthError as exc:
        err.print(f"[red]✗[/red] {exc.text(_locale())} [dim]({exc.code})[/dim]")
        raise typer.Exit(1) from None


def _locale() -> str:
    lang = os.environ.get("METACRM_LOCALE") or os.environ.get("LANG", "")
    return "zh-CN" if lang.lower().startswith("zh") else "en"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""
