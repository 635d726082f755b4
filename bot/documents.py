"""Knowledge that grows: the one API for adding, replacing and withdrawing documents.

`civicbot docs ...` and the officials' console call these functions, and
nothing else writes the registry. Each change is, in order:

1. read the file into sections and passages (knowledge/ingest) — an
   unreadable or scanned file is refused before anything is written;
2. store the original and its structure under ``<data dir>/documents/``;
3. write the registry row(s) in one transaction;
4. publish the registry's active versions to the index (retrieval/live.py):
   only the new version is embedded, and running processes switch to the
   new generation within seconds.

If step 4 fails (the process is killed), the registry is still right and
the next change, `civicbot docs sync` or `civicbot index` publishes it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import utcnow
from bot.settings import Settings
from bot.storage import Database
from bot.storage.document_models import ACTIVE, REPLACED, WITHDRAWN, KnowledgeDocument
from knowledge import library
from knowledge.documents import Document, passages_of, section_label
from knowledge.ingest import IngestError, read_document, read_text
from knowledge.ingest.structure import build_tree
from retrieval.embedder import Embedder
from retrieval.live import Published, PublishReport, publish
from vntext.normalize import clean_input, fold

ANNOUNCEMENT_MAX_CHARS = 20_000


class DocumentError(ValueError):
    """A change the registry refuses; the message is for the official, in Vietnamese."""


@dataclass(frozen=True)
class DocumentInfo:
    code: str
    version: int
    title: str
    filename: str
    file_sha256: str
    issued: date | None
    ward: str | None
    announcement: bool
    status: str
    passages: int
    added_by: str
    added_at: datetime
    note: str | None

    @classmethod
    def of(cls, row: KnowledgeDocument) -> "DocumentInfo":
        return cls(row.code, row.version, row.title, row.filename, row.file_sha256, row.issued, row.ward,
                   row.announcement, row.status, row.passages, row.added_by, row.added_at, row.note)


@dataclass(frozen=True)
class Change:
    """What a change did: the registry row and the index generation it published."""

    document: DocumentInfo
    index: PublishReport | None


def documents_dir(settings: Settings) -> Path:
    return settings.data_dir / "documents"


def resolve_ward(ward: str | None, known: list[str]) -> str | None:
    """The configured ward (CIVICBOT_WARDS) that ``ward`` names, diacritics optional."""
    if not ward or not ward.strip():
        return None
    wanted = fold(ward.strip())
    exact = [w for w in known if fold(w) == wanted]
    partial = [w for w in known if wanted in fold(w)]
    match = exact or (partial if len(partial) == 1 else [])
    if not match:
        raise DocumentError(f"Không rõ phường/xã «{ward}». Các giá trị hợp lệ (CIVICBOT_WARDS): {', '.join(known)}")
    return match[0]


async def add_document(db: Database, settings: Settings, data: bytes, filename: str, *,
                       title: str | None = None, issued: date | None = None, ward: str | None = None,
                       added_by: str = "cli", embedder: Embedder | None = None) -> Change:
    """Add a new document (version 1) from a file's bytes."""
    return await _add(db, settings, data, filename, title=title, issued=issued, ward=ward, added_by=added_by,
                      embedder=embedder)


async def replace_document(db: Database, settings: Settings, code: str, data: bytes, filename: str, *,
                           title: str | None = None, issued: date | None = None, ward: str | None = None,
                           added_by: str = "cli", embedder: Embedder | None = None) -> Change:
    """A new version of document ``code``: quoted from now on; the old one is kept, never quoted."""
    return await _add(db, settings, data, filename, title=title, issued=issued, ward=ward, added_by=added_by,
                      embedder=embedder, replaces=normalise_code(code))


async def publish_announcement(db: Database, settings: Settings, text: str, *, issued: date,
                               ward: str | None = None, added_by: str = "cli", title: str | None = None,
                               broadcast_id: int | None = None, embedder: Embedder | None = None) -> Change:
    """Publish an announcement's text as a dated document residents can ask about."""
    # Its lines as written (control characters dropped): paragraphs and lists keep their shape.
    body = "\n".join(clean_input(line, max_chars=ANNOUNCEMENT_MAX_CHARS) for line in text.splitlines()).strip()
    if not body:
        raise DocumentError("Nội dung thông báo trống.")
    if len(body) > ANNOUNCEMENT_MAX_CHARS:
        raise DocumentError(f"Thông báo dài {len(body)} ký tự, tối đa {ANNOUNCEMENT_MAX_CHARS}.")
    ward = resolve_ward(ward, settings.wards)
    name = title or f"Thông báo ngày {issued:%d/%m/%Y}" + (f" – {ward}" if ward else "")
    # The heading is ours (navigation, never quoted); every line of the text is a block.
    doc = Document("new", name, section_label(name), build_tree(read_text(body), name, title_in_text=False),
                   Path("thong-bao.txt"), issued.isoformat(), ward, True)
    return await _add(db, settings, body.encode("utf-8"), "thong-bao.txt", title=name, issued=issued, ward=ward,
                      added_by=added_by, embedder=embedder, announcement=True, broadcast_id=broadcast_id,
                      parsed=doc)


async def publish_broadcast(db: Database, settings: Settings, broadcast_id: int, *, added_by: str = "cli",
                            embedder: Embedder | None = None) -> Change:
    """Publish broadcast #``broadcast_id`` as an announcement: its text, its date, its ward (when one)."""
    from bot.broadcast.outbox import get_broadcast

    async with db.sessions() as session:
        broadcast = await get_broadcast(session, broadcast_id)
    if broadcast is None:
        raise DocumentError(f"Không có thông báo #{broadcast_id}.")
    wards = (broadcast.segment or {}).get("wards") or []
    when = broadcast.started_at or broadcast.scheduled_at
    return await publish_announcement(
        db, settings, broadcast.text, issued=when.date(), ward=wards[0] if len(wards) == 1 else None,
        added_by=added_by, broadcast_id=broadcast_id, embedder=embedder)


async def withdraw_document(db: Database, settings: Settings, code: str, *, by: str = "cli",
                            note: str | None = None, embedder: Embedder | None = None) -> Change:
    """Stop quoting document ``code`` (every version stays in the registry)."""
    code = normalise_code(code)
    async with db.sessions.begin() as session:
        row = await _active(session, code)
        if row is None:
            raise DocumentError(f"Không có văn bản {code} đang được dùng.")
        row.status, row.status_changed_at, row.status_changed_by = WITHDRAWN, _now(), by
        row.note = clean_input(note or "", 500) or None
        info = DocumentInfo.of(row)
    return Change(info, await sync_index(db, settings, embedder))


async def list_documents(db: Database, include_history: bool = False) -> list[DocumentInfo]:
    async with db.sessions() as session:
        query = select(KnowledgeDocument).order_by(KnowledgeDocument.id)
        if not include_history:
            query = query.where(KnowledgeDocument.status == ACTIVE)
        return [DocumentInfo.of(row) for row in (await session.scalars(query)).all()]


async def document_versions(db: Database, code: str) -> list[DocumentInfo]:
    async with db.sessions() as session:
        rows = await session.scalars(select(KnowledgeDocument).where(KnowledgeDocument.code == normalise_code(code))
                                     .order_by(KnowledgeDocument.version))
        return [DocumentInfo.of(row) for row in rows.all()]


async def sync_index(db: Database, settings: Settings, embedder: Embedder | None = None) -> PublishReport:
    """Publish the registry's active versions to the index (embeds only what is new)."""
    async with db.sessions() as session:
        rows = (await session.scalars(select(KnowledgeDocument).where(KnowledgeDocument.status == ACTIVE)
                                      .order_by(KnowledgeDocument.id))).all()
    folder = documents_dir(settings)
    versions = [Published(r.code, r.version, str(library.version_folder(folder, r.code, r.version)
                                                  / library.STRUCTURE_FILE)) for r in rows]
    embedder = embedder or _default_embedder(settings)
    return await asyncio.to_thread(publish, settings.index_dir, versions, embedder)


def normalise_code(code: str) -> str:
    code = code.strip().lower()
    return f"vb{code}" if code.isdigit() else code


# -- internals ---------------------------------------------------------------------------


async def _add(db: Database, settings: Settings, data: bytes, filename: str, *, title: str | None,
               issued: date | None, ward: str | None, added_by: str, embedder: Embedder | None,
               replaces: str | None = None, announcement: bool = False, broadcast_id: int | None = None,
               parsed: Document | None = None) -> Change:
    ward = resolve_ward(ward, settings.wards)
    name = Path(filename).name
    try:
        doc = parsed or read_document(data, name, "new", title=title, issued=issued.isoformat() if issued else None,
                                      ward=ward, announcement=announcement)
    except IngestError as exc:
        raise DocumentError(str(exc)) from None
    digest = library.sha256(data)
    async with db.sessions.begin() as session:
        same = await session.scalar(select(KnowledgeDocument).where(
            KnowledgeDocument.file_sha256 == digest, KnowledgeDocument.status == ACTIVE))
        if same is not None:
            raise DocumentError(f"Tệp này đã có trong cơ sở tri thức: {same.code} (phiên bản {same.version}, "
                                f"«{same.title}»).")
        if replaces:
            old = await _active(session, replaces)
            if old is None:
                raise DocumentError(f"Không có văn bản {replaces} đang được dùng để thay thế.")
            old.status, old.status_changed_at, old.status_changed_by = REPLACED, _now(), added_by
            code, version = replaces, old.version + 1
            ward = ward if ward is not None else old.ward     # a new version keeps its ward unless told
            doc.ward = ward
            row = _row(code, version, doc, name, digest, issued, ward, added_by, announcement, broadcast_id)
            session.add(row)
        else:
            row = _row("", 1, doc, name, digest, issued, ward, added_by, announcement, broadcast_id)
            session.add(row)
            await session.flush()
            row.code = f"vb{row.id}"
        doc.id = row.code
        row.passages = len(passages_of(doc))
        await asyncio.to_thread(library.store, documents_dir(settings), row.code, row.version, name, data, doc)
        info = DocumentInfo.of(row)
    return Change(info, await sync_index(db, settings, embedder))


def _row(code, version, doc, filename, digest, issued, ward, added_by, announcement, broadcast_id) -> KnowledgeDocument:
    return KnowledgeDocument(
        code=code, version=version, title=doc.title[:300], filename=filename[:255], file_sha256=digest,
        issued=issued, ward=ward, announcement=announcement, broadcast_id=broadcast_id, status=ACTIVE,
        passages=0, added_by=added_by[:100], added_at=_now())


async def _active(session: AsyncSession, code: str) -> KnowledgeDocument | None:
    return await session.scalar(select(KnowledgeDocument).where(
        KnowledgeDocument.code == code, KnowledgeDocument.status == ACTIVE))


def _now() -> datetime:
    return utcnow()


def _default_embedder(settings: Settings) -> Embedder:
    # bot.search, not bot.app: the app factory imports the messengers and handlers, which an add
    # from the command line never uses.
    from bot.search import build_embedder

    return build_embedder(settings)
