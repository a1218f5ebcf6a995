"""Opening a CSV source as text: UTF-8 (with or without Excel's BOM), else GBK.

Excel on a Chinese Windows saves "CSV" in the ANSI code page, GBK; everything else
writes UTF-8, often with a BOM. The choice is made once per file: a file on disk is
scanned end to end with an incremental decoder (bounded memory, no parsing), so a GBK
character deep in the file cannot break the import half-way; a stream that cannot be
rewound is judged on its first megabyte. GB 18030 is used for GBK, being its superset.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from engine.transfer.errors import TransferError

__all__ = ["Source", "open_source"]

_BLOCK = 1 << 20
UTF8 = "utf-8-sig"
GBK = "gb18030"


@dataclass
class Source:
    """An open CSV text stream, and how far through the underlying bytes reading is."""

    text: IO[str]
    encoding: str
    total_bytes: int | None
    _counter: _CountingReader | None = None

    @property
    def bytes_read(self) -> int:
        return self._counter.count if self._counter else 0


class _CountingReader(io.RawIOBase):
    """Passes reads through and counts the bytes, for a progress bar over the file."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


@contextmanager
def open_source(source: str | os.PathLike[str] | IO[Any]) -> Iterator[Source]:
    """Open ``source`` (a path, a binary stream or a text stream) for ``csv.reader``.

    Raises:
        TransferError: ``unreadable`` when the bytes are neither UTF-8 nor GBK.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as raw:
            encoding = _scan(raw)
            raw.seek(0)
            yield _wrap(raw, encoding, path.stat().st_size)
        return
    if isinstance(source, io.TextIOBase):
        encoding = getattr(source, "encoding", None) or "text"
        yield Source(text=source, encoding=encoding, total_bytes=None)  # type: ignore[arg-type]
        return
    binary: IO[bytes] = source
    if binary.seekable():
        start = binary.tell()
        encoding = _scan(binary)
        size = binary.tell() - start
        binary.seek(start)
        yield _wrap(binary, encoding, size)
        return
    buffered = io.BufferedReader(binary, _BLOCK)  # type: ignore[arg-type]
    yield _wrap(buffered, _guess(buffered.peek(_BLOCK)[:_BLOCK]), None)


def _wrap(raw: IO[bytes], encoding: str, size: int | None) -> Source:
    counter = _CountingReader(raw)
    text = io.TextIOWrapper(io.BufferedReader(counter, 64 * 1024), encoding, newline="")
    return Source(text=text, encoding=encoding, total_bytes=size, _counter=counter)


def _scan(raw: IO[bytes]) -> str:
    """UTF-8 when every byte decodes as such, else GBK when that decodes; reads to the end."""
    start = raw.tell()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        while block := raw.read(_BLOCK):
            utf8.decode(block)
            offset += len(block)
        utf8.decode(b"", final=True)
        return UTF8
    except UnicodeDecodeError:
        pass
    raw.seek(start)
    gbk = codecs.getincrementaldecoder(GBK)()
    offset = 0
    try:
        while block := raw.read(_BLOCK):
            gbk.decode(block)
            offset += len(block)
        gbk.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise TransferError.of("unreadable", offset=offset + exc.start) from None
    return GBK


def _guess(head: bytes) -> str:
    """The encoding of a stream judged on its first bytes (a cut character is forgiven)."""
    for encoding in ("utf-8", GBK):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head)
            return UTF8 if encoding == "utf-8" else GBK
        except UnicodeDecodeError:
            continue
    raise TransferError.of("unreadable", offset=0)
