"""Load pack folders: the manifest, one document per file, and translation catalogs.

The folder a file sits in says what it declares (``objects/`` holds objects, and so on),
so a consultant never writes a ``kind:`` key, and a misspelled folder is reported with a
suggestion instead of being silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from metadata.decode import decode_document
from metadata.model.automations import Automation
from metadata.model.common import LOCALES
from metadata.model.layouts import LayoutFile
from metadata.model.objects import ObjectDef
from metadata.model.pack import PackManifest
from metadata.model.security import RoleFile
from metadata.model.value_sets import ValueSet
from metadata.model.workflows import ApprovalProcess, Workflow
from metadata.problems import Problem, Severity, did_you_mean
from metadata.source import SourceDoc, read_document

__all__ = ["DOCUMENT_FOLDERS", "Document", "LoadedPack", "load_pack", "load_packs"]

T = TypeVar("T")

#: Folder inside a pack -> the Struct each of its files declares.
DOCUMENT_FOLDERS: dict[str, type[Any]] = {
    "objects": ObjectDef,
    "value_sets": ValueSet,
    "layouts": LayoutFile,
    "workflows": Workflow,
    "approvals": ApprovalProcess,
    "automations": Automation,
    "security": RoleFile,
}
_OTHER_FOLDERS = ("i18n", "data", "docs")
_DOC_SUFFIXES = (".yaml", ".yml", ".json")
MANIFEST = "pack.yaml"


@dataclass(frozen=True)
class Document(Generic[T]):
    """A decoded document and where it came from (``file`` is relative to the pack)."""

    value: T
    pack: str
    file: str
    source: SourceDoc


@dataclass
class LoadedPack:
    """Everything read from one pack folder, before layering."""

    root: Path
    manifest: PackManifest
    source: SourceDoc
    documents: dict[str, list[Document[Any]]] = field(default_factory=dict)
    catalogs: dict[str, dict[str, str]] = field(default_factory=dict)
    catalog_sources: dict[str, SourceDoc] = field(default_factory=dict)
    data_files: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.manifest.name

    def of(self, folder: str) -> list[Document[Any]]:
        return self.documents.get(folder, [])

    def sources(self) -> Iterable[SourceDoc]:
        yield self.source
        for docs in self.documents.values():
            for doc in docs:
                yield doc.source
        yield from self.catalog_sources.values()


def load_packs(paths: Iterable[Path]) -> tuple[list[LoadedPack], list[Problem]]:
    """Load several pack folders; problems from all of them are returned together."""
    packs: list[LoadedPack] = []
    problems: list[Problem] = []
    for path in paths:
        pack, found = load_pack(path)
        problems.extend(found)
        if pack is not None:
            packs.append(pack)
    return packs, problems


def load_pack(root: Path) -> tuple[LoadedPack | None, list[Problem]]:
    """Load one pack folder. Returns None for the pack only if its manifest is unusable."""
    root = Path(root)
    problems: list[Problem] = []
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        return None, [
            Problem(
                code="no_manifest",
                message=f"not a pack: {MANIFEST} is missing",
                file=_display(root, manifest_path),
                expected=f"a {MANIFEST} with name and version",
            )
        ]
    source, found = read_document(manifest_path, _display(root, manifest_path))
    problems.extend(found)
    manifest = None
    if source is not None:
        manifest, found = decode_document(source, PackManifest)
        problems.extend(found)
    if manifest is None or source is None:
        return None, problems
    pack = LoadedPack(root=root, manifest=manifest, source=source)
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name == MANIFEST:
            continue
        if entry.is_dir():
            problems.extend(_load_folder(pack, entry))
        elif entry.suffix in _DOC_SUFFIXES:
            problems.append(_stray(pack, entry, "a document outside any folder"))
    return pack, problems


def _load_folder(pack: LoadedPack, folder: Path) -> list[Problem]:
    problems: list[Problem] = []
    if folder.name == "i18n":
        return _load_catalogs(pack, folder)
    if folder.name in _OTHER_FOLDERS:
        if folder.name == "data":
            pack.data_files = sorted(p.name for p in folder.iterdir() if p.is_file())
        return []
    typ = DOCUMENT_FOLDERS.get(folder.name)
    if typ is None:
        known = [*DOCUMENT_FOLDERS, *_OTHER_FOLDERS]
        return [
            Problem(
                code="unknown_folder",
                message=f"folder {folder.name!r} is not part of a pack",
                file=_display(pack.root, folder),
                expected="one of " + ", ".join(known),
                suggestion=did_you_mean(folder.name, known),
            )
        ]
    docs = pack.documents.setdefault(folder.name, [])
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix not in _DOC_SUFFIXES:
            problems.append(_stray(pack, path, "not a .yaml, .yml or .json file"))
            continue
        display = _display(pack.root, path)
        source, found = read_document(path, display)
        problems.extend(found)
        if source is None:
            continue
        value, found = decode_document(source, typ)
        problems.extend(found)
        if value is not None:
            rel = path.relative_to(pack.root).as_posix()
            docs.append(Document(value=value, pack=pack.name, file=rel, source=source))
    return problems


def _load_catalogs(pack: LoadedPack, folder: Path) -> list[Problem]:
    problems: list[Problem] = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in _DOC_SUFFIXES:
            continue
        locale = path.stem
        display = _display(pack.root, path)
        if locale not in LOCALES:
            problems.append(
                Problem(
                    code="unknown_locale",
                    message=f"no such locale {locale!r}",
                    file=display,
                    expected="one of " + ", ".join(LOCALES),
                    suggestion=did_you_mean(locale, LOCALES),
                )
            )
            continue
        source, found = read_document(path, display)
        problems.extend(found)
        if source is None:
            continue
        catalog: dict[str, str] = {}
        problems.extend(_flatten(source, source.data, (), catalog))
        pack.catalogs[locale] = catalog
        pack.catalog_sources[locale] = source
    return problems


def _flatten(
    source: SourceDoc, node: Any, path: tuple[str, ...], out: dict[str, str]
) -> list[Problem]:
    """Nested ``{objects: {lead: {label: 线索}}}`` becomes ``objects.lead.label``."""
    if node is None:
        return []
    if isinstance(node, dict):
        problems: list[Problem] = []
        for key, value in node.items():
            problems.extend(_flatten(source, value, (*path, str(key)), out))
        return problems
    if isinstance(node, str | int | float):
        out[".".join(path)] = str(node)
        return []
    return [
        Problem(
            code="wrong_type",
            message="a translation must be text",
            file=source.display,
            line=source.line_of(path),
            path=".".join(path),
            expected="text or a nested mapping",
            found=type(node).__name__,
        )
    ]


def _stray(pack: LoadedPack, path: Path, why: str) -> Problem:
    return Problem(
        code="stray_file",
        message=f"ignored: {why}",
        file=_display(pack.root, path),
        severity=Severity.WARNING,
    )


def _display(root: Path, path: Path) -> str:
    """Show files as the consultant would type them: relative to the working directory."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
