"""Documents added as knowledge, on disk under ``<data dir>/documents/``.

Each version of a document has a folder ``<code>/v<version>/`` with the
original file as it was given and ``structure.json``: the parsed section
tree and the metadata that passages carry (title, issue date, ward,
announcement). Every process reads the structure, never re-parses a PDF,
so all of them quote exactly the same passages.

Which versions are quoted is decided by the registry in the database
(bot/storage/document_models.py); the search index publishes that list
(retrieval/live.py), and readers load the structures it names.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from knowledge.documents import Document, section_from_dict, section_to_dict

STRUCTURE_FILE = "structure.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoredVersion:
    """Where one version of a document is kept, and what its passages carry."""

    code: str
    version: int
    folder: Path

    @property
    def structure_path(self) -> Path:
        return self.folder / STRUCTURE_FILE


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_folder(documents_dir: Path, code: str, version: int) -> Path:
    return documents_dir / code / f"v{version}"


def store(documents_dir: Path, code: str, version: int, filename: str, data: bytes, doc: Document) -> StoredVersion:
    """Write the original file and the parsed structure (each atomically) and return where."""
    folder = version_folder(documents_dir, code, version)
    folder.mkdir(parents=True, exist_ok=True)
    original = folder / ("original" + Path(filename).suffix.lower())
    _write_atomic(original, data)
    payload = {
        "format_version": FORMAT_VERSION,
        "id": doc.id, "title": doc.title, "short_title": doc.short_title,
        "issued": doc.issued, "ward": doc.ward, "announcement": doc.announcement,
        "filename": filename, "sha256": sha256(data),
        "root": section_to_dict(doc.root),
    }
    _write_atomic(folder / STRUCTURE_FILE, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    return StoredVersion(code, version, folder)


def load(structure_path: Path) -> Document:
    """The Document stored at ``structure_path`` (``<code>/v<n>/structure.json``)."""
    data = json.loads(structure_path.read_text(encoding="utf-8"))
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{structure_path}: unknown format {data.get('format_version')!r}")
    root = section_from_dict(data["root"])
    original = next(iter(sorted(structure_path.parent.glob("original.*"))), structure_path)
    return Document(
        id=data["id"], title=data["title"], short_title=data["short_title"], root=root, path=original,
        issued=data["issued"], ward=data["ward"], announcement=data["announcement"],
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
