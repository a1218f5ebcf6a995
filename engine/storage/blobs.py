"""Uploaded files' bytes, on disk, addressed by their SHA-256.

The database keeps what a file is (``_files``: name, type, size, who uploaded it); the
bytes live here, one file per distinct content, written to a temporary name and renamed
into place so a reader never sees half a file. Two uploads of the same bytes share one
blob. Where the blobs live: ``METACRM_FILES_DIR``, else beside the SQLite file
(``<file>.files/``), else ``./metacrm-files``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from engine.storage.database import Database

__all__ = ["BlobStore", "TooLarge"]


class TooLarge(ValueError):
    """The upload passed the size limit; nothing was kept."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"larger than {limit} bytes")


class BlobStore:
    def __init__(self, root: Path):
        self.root = root

    @classmethod
    def for_database(cls, db: Database) -> BlobStore:
        configured = os.environ.get("METACRM_FILES_DIR")
        if configured:
            return cls(Path(configured))
        if db.is_sqlite and db.url.database not in (None, "", ":memory:"):
            return cls(Path(f"{db.url.database}.files"))
        if db.is_sqlite:  # an in-memory database keeps its files for the process only
            return cls(Path(tempfile.mkdtemp(prefix="metacrm-files-")))
        return cls(Path.cwd() / "metacrm-files")

    def put(self, chunks: Iterable[bytes], limit: int) -> tuple[str, int]:
        """Store the bytes; return their SHA-256 (hex) and size.

        Raises:
            TooLarge: More than ``limit`` bytes arrived (the partial copy is removed).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, temp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(limit)
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            target = self.path(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return sha, size

    def path(self, sha: str) -> Path:
        if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a SHA-256: {sha!r}")
        return self.root / sha[:2] / sha[2:]
