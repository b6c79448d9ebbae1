"""Content-addressed file storage for attachments and photos (embedded default: disk).

Files are written before the database row that names them, so a crash leaves at worst an
unreferenced file, never a row without its file. Same bytes → same file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from services.common.errors import Violations

ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path


def check_upload(
    v: Violations, field: str, *, filename: str, content_type: str, content: bytes, limit: int
) -> None:
    """Field violations for one uploaded file."""
    v.check(bool(filename.strip()), f"{field}.filename", "is required")
    v.check(len(filename) <= 255, f"{field}.filename", "must be at most 255 characters")
    if content_type not in ALLOWED_TYPES:
        v.add(f"{field}.content_type", f"must be one of {', '.join(sorted(ALLOWED_TYPES))}")
    elif content and not content.startswith(_MAGIC[content_type]):
        v.add(f"{field}.content", f"is not a {content_type} file")
    v.check(len(content) > 0, f"{field}.content", "is empty")
    v.check(
        len(content) <= limit, f"{field}.content", f"is {len(content)} bytes; the limit is {limit}"
    )


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, content: bytes) -> StoredBlob:
        digest = hashlib.sha256(content).hexdigest()
        path = self.root / digest[:2] / digest
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        return StoredBlob(digest, len(content), path)

    def get(self, sha256: str) -> bytes:
        return (self.root / sha256[:2] / sha256).read_bytes()
