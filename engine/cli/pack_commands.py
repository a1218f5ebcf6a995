"""Commands for consultants working on packs: validate, init, packs, inspect, schema, docs."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from engine.cli.scaffold import scaffold_pack
from engine.packs import discover
from engine.validate import Report, validate_paths
from metadata import Problem, Severity
from metadata.reference import json_schema, markdown_reference

__all__ = ["register"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

REFERENCE_PAGE = Path("docs/metadata.md")


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(init)
    app.command("packs")(list_packs)
    app.command()(inspect)
    app.command()(schema)
    app.command()(docs)


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Pack folders, or folders of packs.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json")
    ] = OutputFormat.TEXT,
    strict_i18n: Annotated[
        bool, typer.Option("--strict-i18n", help="Treat missing translations as errors.")
    ] = False,
) -> None:
    """Check packs and report every problem, with file, line and a suggestion."""
    report = validate_paths(paths, strict_i18n=strict_i18n)
    if output is OutputFormat.JSON:
        body = {
            "ok": not report.errors,
            "packs": [p.name for p in report.packs],
            "content_hash": report.schema.content_hash if not report.errors else None,
            "problems": msgspec.to_builtins(report.problems),
        }
        out.print_json(json.dumps(body, ensure_ascii=False))
    else:
        _print_report(report, strict_i18n)
    raise typer.Exit(1 if report.errors else 0)


def _print_report(report: Report, strict_i18n: bool) -> None:
    gaps = [p for p in report.warnings if p.code == "missing_translation"]
    shown = [p for p in report.problems if p not in gaps]
    for problem in shown:
        _print_problem(problem)
    names = ", ".join(f"{p.name} {p.manifest.version}" for p in report.packs)
    if report.errors:
        err.print(f"[red]✗ {len(report.errors)} error(s)[/red] in {names}")
        return
    objects = len(report.schema.objects)
    fields = sum(len(o.fields) for o in report.schema.objects.values())
    out.print(
        f"[green]✓[/green] {names}: {objects} objects, {fields} fields, "
        f"hash {report.schema.content_hash[:12]}"
    )
    if gaps and not strict_i18n:
        out.print(f"  {len(gaps)} missing translation(s); run with --strict-i18n to list them")


def _print_problem(problem: Problem) -> None:
    colour = "red" if problem.severity is Severity.ERROR else "yellow"
    err.print(f"[{colour}]{problem.severity}[/{colour}] {problem.render()}", soft_wrap=True)


def init(
    path: Annotated[Path, typer.Argument(help="Folder to create; its name is the pack name.")],
    object_name: Annotated[
        str, typer.Option("--object", help="Name of the first object.")
    ] = "item",
) -> None:
    """Create a new pack with a manifest, one object and its labels."""
    try:
        created = scaffold_pack(path, object_name)
    except (FileExistsError, ValueError) as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from exc
    for file in created:
        out.print(f"created {file}")
    out.print(f"next: metacrm validate {path}")


def list_packs() -> None:
    """Show the packs on the search path, with versions and dependencies."""
    report = validate_paths(list(discover().values()))
    table = Table(title="Available packs")
    for column in ("pack", "version", "layer", "label", "requires", "objects"):
        table.add_column(column)
    for info in report.schema.packs:
        owned = sum(
            1 for o in report.schema.objects.values() if o.packs and o.packs[0] == info.name
        )
        requires = ", ".join(f"{k} {v}" for k, v in info.requires.items()) or "—"
        label = info.label.get("en", "")
        if "zh-CN" in info.label:
            label += f" / {info.label['zh-CN']}"
        table.add_row(info.name, info.version, str(info.layer), label, requires, str(owned))
    out.print(table)


def inspect(
    object_name: Annotated[str, typer.Argument(metavar="OBJECT")],
    paths: Annotated[
        list[Path] | None, typer.Option("--pack", help="Pack folders (default: all available).")
    ] = None,
    locale: Annotated[str, typer.Option(help="Locale of labels: en or zh-CN.")] = "en",
) -> None:
    """Show an object's resolved fields and the pack each one came from."""
    report = validate_paths(paths or list(discover().values()))
    obj = report.schema.objects.get(object_name)
    if obj is None:
        from metadata.problems import did_you_mean

        hint = did_you_mean(object_name, report.schema.objects)
        err.print(
            f"[red]error[/red] no object {object_name!r}"
            + (f"; did you mean {hint!r}?" if hint else "")
        )
        raise typer.Exit(1)
    title = (
        f"{obj.name} — {obj.label.get(locale) or obj.label['en']} (packs: {', '.join(obj.packs)})"
    )
    table = Table(title=title)
    for column in ("field", "type", "label", "required", "pack", "file"):
        table.add_column(column)
    for field in obj.fields:
        origin = obj.origins[f"fields.{field.name}"]
        label = field.label.get(locale) or field.label.get("en", "") if field.label else ""
        required = "yes" if getattr(field, "required", False) else ""
        table.add_row(field.name, str(field.kind), label, required, origin.pack, origin.file)
    out.print(table)
    for rule in obj.validations:
        origin = obj.origins[f"validations.{rule.name}"]
        out.print(
            f"validation [bold]{rule.name}[/bold] ({origin.pack}): "
            f"{rule.message.get(locale) or rule.message['en']}"
        )


def schema() -> None:
    """Print the JSON Schema of the metadata language (for editor completion)."""
    typer.echo(json.dumps(json_schema(), ensure_ascii=False, indent=2))


def docs(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if docs/metadata.md is stale.")
    ] = False,
) -> None:
    """Regenerate docs/metadata.md, the reference of every key and field type."""
    text = markdown_reference()
    if check:
        current = REFERENCE_PAGE.read_text(encoding="utf-8") if REFERENCE_PAGE.exists() else ""
        if current != text:
            err.print(f"[red]{REFERENCE_PAGE} is stale[/red]: run metacrm docs")
            raise typer.Exit(1)
        return
    REFERENCE_PAGE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE_PAGE.write_text(text, encoding="utf-8")
    out.print(f"wrote {REFERENCE_PAGE}")
