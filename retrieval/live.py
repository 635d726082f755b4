"""The live index: the bundled sources plus the documents added since, updated in place.

Layout under the index folder::

    dense.faiss, manifest.json    the bundled sources (built once, see dense.py)
    segments/<code>-v<n>.npz      one per added document version: its vectors,
                                  the model, and the hash of the units they embed
    live.json                     what is published now: a generation number and
                                  the document versions quoted (written atomically)

`publish` (called after the registry changed: add, replace, withdraw)
embeds only the versions that have no segment yet, then writes a new
live.json: nothing else is re-embedded. Every running process has a
`LiveIndex` whose watcher thread looks at live.json every second; when the
generation changes it assembles a new searcher from the segments (in the
background, while the old one keeps answering) and swaps it in. A segment
whose model or units do not match is re-embedded, never used as it is (the
manifest rule of dense.py, per segment).

Search through a `LiveIndex` also applies what the added documents need:
ward scope (a ward's documents only for its residents or when the question
names the ward), announcements ("thông báo ..." questions are answered from
announcements) and dates (among passages that answer about equally well,
the newest document comes first).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from knowledge import library
from knowledge.base import KnowledgeBase
from knowledge.enumerations import build_enumerations
from knowledge.documents import Corpus, Document, Passage, passages_of
from retrieval import dense
from retrieval.dense import DenseIndex, Unit, embed_units, units_hash
from retrieval.embedder import Embedder
from retrieval.lexicon import Lexicon
from retrieval.locking import exclusive_lock
from retrieval.searcher import FusionParams, HybridSearcher, SearchResult, units_for
from vntext.normalize import canonical_tone_marks, fold, syllables

log = logging.getLogger(__name__)

LIVE_FILE = "live.json"
SEGMENTS_DIR = "segments"
LOCK_FILE = "live.lock"
WATCH_SECONDS = 1.0
# Hits that answer "about as well" as the best (see newest_first): the newest
# dated document among them is quoted first.
SAME_SUBJECT_WINDOW = 0.1
SAME_DENSE_GAP, SAME_LEXICAL = 0.03, 0.6
LATEST_DENSE_GAP, LATEST_LEXICAL = 0.08, 0.3
_LATEST_WORDS = {"gi", "nao", "nhat"}     # "có thông báo gì", "thông báo nào", "mới nhất"
# "tôi muốn nhận thông báo", "hủy nhận thông báo": about the bot's /dangky, not an announcement's content.
_ABOUT_SUBSCRIBING = ("nhan thong bao", "dang ky", "huy", "ngung", "tat")
_WARD_PREFIXES = ("phường ", "xã ", "đặc khu ", "thị trấn ")


@dataclass(frozen=True)
class Published:
    """One document version in live.json."""

    code: str
    version: int
    structure: str      # path of its structure.json (in live.json: relative to the index folder)


def document_units(doc: Document, passages: list[Passage]) -> list[Unit]:
    """Units of an added document: as for the bundled sources, with the document's
    own name in front (its title and date are what residents ask by:
    "thông báo ngày 5/1 của phường Lê Chân", "kế hoạch chính quyền thân thiện")."""
    corpus = Corpus([doc], passages)
    name = doc.short_title
    if doc.announcement or doc.issued:
        name = f"{name} ({_vn_date(doc.issued)})" if doc.issued else name
    return [Unit(u.passage_id, u.kind, canonical_tone_marks(f"{name}\n{u.text}"))
            for u in units_for(corpus, {})]


def _vn_date(iso: str | None) -> str:
    if not iso:
        return ""
    year, month, day = iso.split("-")
    return f"{int(day):02d}/{int(month):02d}/{year}"


# -- writing: segments and live.json ------------------------------------------------


def segment_path(index_dir: Path, code: str, version: int) -> Path:
    return index_dir / SEGMENTS_DIR / f"{code}-v{version}.npz"


def read_live(index_dir: Path) -> dict:
    try:
        return json.loads((index_dir / LIVE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"generation": 0, "documents": []}


def _read_segment(path: Path, units: list[Unit], model: str) -> np.ndarray | None:
    """The segment's vectors if they were made by ``model`` from exactly ``units``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["model"] != model or meta["units_hash"] != units_hash(units) or meta["units"] != len(units):
                return None
            return np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, KeyError, ValueError):
        return None


def _segment_model(path: Path) -> str | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"]))["model"]
    except (OSError, KeyError, ValueError):
        return None


def _write_segment(path: Path, units: list[Unit], vectors: np.ndarray, model: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"model": model, "units_hash": units_hash(units), "units": len(units)})
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, vectors=vectors, meta=np.array(meta))
    os.replace(tmp, path)


def segment_vectors(index_dir: Path, code: str, version: int, units: list[Unit], embedder: Embedder,
                    save: bool = True) -> tuple[np.ndarray, bool]:
    """(vectors, whether they had to be embedded now) for one document version."""
    path = segment_path(index_dir, code, version)
    vectors = _read_segment(path, units, embedder.name)
    if vectors is not None:
        return vectors, False
    vectors = embed_units(units, embedder) if units else np.zeros((0, embedder.dim), np.float32)
    if save:
        _write_segment(path, units, vectors, embedder.name)
    return vectors, True


@dataclass(frozen=True)
class PublishReport:
    generation: int
    documents: int
    embedded: list[str]     # "<code> v<n>" embedded by this call
    seconds: float


def publish(index_dir: Path, versions: list[Published], embedder: Embedder) -> PublishReport:
    """Make ``versions`` (the registry's active document versions) the quoted set.

    Embeds the versions that have no valid segment, then writes live.json
    with the next generation. Serialised across processes by a file lock.
    """
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    embedded = []
    with exclusive_lock(index_dir / LOCK_FILE):
        for item in versions:
            # A segment made by this model is kept (readers check its units hash
            # when they load it, and re-embed a stale one): publishing costs the
            # new versions only, not a pass over the whole library.
            if _segment_model(segment_path(index_dir, item.code, item.version)) == embedder.name:
                continue
            doc = library.load(index_dir / item.structure)
            units = document_units(doc, passages_of(doc))
            _, fresh = segment_vectors(index_dir, item.code, item.version, units, embedder)
            if fresh:
                embedded.append(f"{item.code} v{item.version}")
        generation = int(read_live(index_dir).get("generation", 0)) + 1
        payload = {
            "generation": generation,
            "model": embedder.name,
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            # Relative paths: the data folder may be mounted elsewhere by the readers.
            "documents": [{"code": v.code, "version": v.version,
                           "structure": os.path.relpath(index_dir / v.structure, index_dir)} for v in versions],
        }
        tmp = index_dir / (LIVE_FILE + ".tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, index_dir / LIVE_FILE)
    return PublishReport(generation, len(versions), embedded, time.perf_counter() - started)


# -- reading: snapshots and the searcher over them --------------------------------------


class Snapshot:
    """One published generation: the knowledge and a searcher over it, never changed."""

    def __init__(self, generation: int, knowledge: KnowledgeBase, searcher: HybridSearcher):
        self.generation = generation
        self.knowledge = knowledge
        self.searcher = searcher
        passages = knowledge.corpus.passages
        self._ward = np.array([fold(p.ward) if p.ward else "" for p in passages])
        self._announcement = np.array([p.announcement for p in passages], dtype=bool)
        self.wards = sorted({p.ward for p in passages if p.ward})
        self.has_announcements = bool(self._announcement.any())
        self._masks: dict[tuple, np.ndarray | None] = {}

    def scope(self, question: str, ward: str | None) -> tuple[np.ndarray | None, bool]:
        """(passages this asker may be quoted, or None for all; is it a question about announcements)."""
        folded = f" {' '.join(fold(question).split())} "
        about_announcements = (self.has_announcements and " thong bao " in folded
                               and not any(f" {w} " in folded for w in _ABOUT_SUBSCRIBING))
        if not self.wards and not about_announcements:
            return None, False
        wards = {fold(w) for w in self.wards if _names_ward(folded, w)}
        if ward:
            wards.add(fold(ward))
        key = (frozenset(wards), about_announcements)
        if key not in self._masks:
            mask = np.isin(self._ward, ["", *wards])
            if about_announcements and (mask & self._announcement).any():
                mask &= self._announcement
            else:
                about_announcements = False
            self._masks[key] = mask if not mask.all() else None
        mask = self._masks[key]
        return mask, about_announcements and (mask is None or bool((mask & self._announcement).any()))


def _names_ward(folded_question: str, ward: str) -> bool:
    name = ward.lower()
    for prefix in _WARD_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return f" {' '.join(fold(name).split())} " in folded_question


def newest_first(result: SearchResult, latest: bool = False) -> SearchResult:
    """Hits that answer about as well as the best one, dated ones newest first, go first.

    "About as well": within a fused-score window of the best, or, since fused
    scores are relative (and spread apart when few passages are in scope),
    close to it on both absolute channels: the dense cosine and a good share
    of the best BM25 evidence. ``latest`` ("thông báo mới nhất"): looser, any
    announcement on the subject will do.
    """
    hits = [h for h in result.hits if math.isfinite(h.score)]
    if len(hits) < 2 or not any(h.passage.issued for h in hits):
        return result
    best = hits[0]
    dense_gap, lexical_floor = (LATEST_DENSE_GAP, LATEST_LEXICAL) if latest else (SAME_DENSE_GAP, SAME_LEXICAL)
    same = [h for h in hits if h.score >= best.score - SAME_SUBJECT_WINDOW
            or (h.dense >= best.dense - dense_gap and h.lexical >= lexical_floor)]
    ordered = sorted(same, key=lambda h: h.passage.issued or "", reverse=True)
    return replace(result, hits=ordered + [h for h in result.hits if h not in same])


class LiveIndex:
    """The current snapshot of a process, kept up to date with live.json."""

    def __init__(self, base: KnowledgeBase, base_index: DenseIndex, embedder: Embedder, index_dir: Path,
                 off_topic: np.ndarray | None = None):
        self._base = base
        self._off_topic = off_topic
        self._base_units = units_for(base.corpus, base.variants)
        self._base_vectors = base_index.vectors()
        self._base_manifest = base_index.manifest
        self._embedder = embedder
        self._index_dir = index_dir
        self._lexicon = Lexicon.load()
        self._params = FusionParams.load()
        # Per document version: its passages, units and vectors, kept between generations.
        self._cache: dict[tuple[str, int], tuple[Document, list[Passage], list[Unit], np.ndarray]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._seen: tuple[float, int] | None = None
        self.current = self._assemble(read_live(index_dir))
        self._seen = self._stamp()

    # -- keeping up with live.json

    def _stamp(self) -> tuple[float, int] | None:
        try:
            stat = (self._index_dir / LIVE_FILE).stat()
            return stat.st_mtime, stat.st_size
        except OSError:
            return None

    def refresh(self) -> bool:
        """Load a newer published generation if there is one; True when swapped."""
        with self._lock:
            stamp = self._stamp()
            if stamp == self._seen:
                return False
            live = read_live(self._index_dir)
            if int(live.get("generation", 0)) == self.current.generation:
                self._seen = stamp
                return False
            started = time.perf_counter()
            snapshot = self._assemble(live)
            self.current, self._seen = snapshot, stamp
            log.info("knowledge generation %d in use (%d passages), assembled in %.2f s",
                     snapshot.generation, len(snapshot.knowledge.corpus.passages), time.perf_counter() - started)
            return True

    def watch(self, interval: float = WATCH_SECONDS) -> None:
        """Check live.json every ``interval`` seconds in a daemon thread (long-running processes)."""
        if self._watcher is not None:
            return

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except Exception:   # a half-written or unreadable generation: keep the current one
                    log.exception("could not load the published knowledge; keeping generation %d",
                                  self.current.generation)

        self._watcher = threading.Thread(target=run, name="knowledge-watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    def _assemble(self, live: dict) -> Snapshot:
        entries, parts = [], []
        for item in live.get("documents", []):
            entry = Published(item["code"], int(item["version"]), item["structure"])
            try:
                parts.append(self._part(entry))
                entries.append(entry)
            except (OSError, ValueError, KeyError):
                # Not silently: an official must restore the file or withdraw the document.
                log.error("document %s v%d cannot be loaded from %s: not quoted until fixed",
                          entry.code, entry.version, entry.structure, exc_info=True)
        documents = [*self._base.corpus.documents, *(p[0] for p in parts)]
        passages = [*self._base.corpus.passages, *(x for p in parts for x in p[1])]
        units = [*self._base_units, *(u for p in parts for u in p[2])]
        vectors = np.vstack([self._base_vectors, *(p[3] for p in parts)]) if parts else self._base_vectors
        index = faiss.IndexFlatIP(self._embedder.dim)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        manifest = replace(self._base_manifest, corpus_hash=units_hash(units) if parts else self._base_manifest.corpus_hash,
                           units=len(units), built_at=live.get("published_at", self._base_manifest.built_at))
        corpus = Corpus(documents, passages)
        previous = getattr(self, "current", None)
        searcher = HybridSearcher(corpus, units, DenseIndex(index, manifest), self._embedder,
                                  self._lexicon, self._params, self._off_topic,
                                  previous=previous.searcher if previous else None)
        knowledge = KnowledgeBase(corpus, self._base.variants, self._base.catalog,
                                  tuple(build_enumerations(corpus, self._base.catalog)))
        keep = {(e.code, e.version) for e in entries}
        self._cache = {key: value for key, value in self._cache.items() if key in keep}
        return Snapshot(int(live.get("generation", 0)), knowledge, searcher)

    def _part(self, entry: Published):
        key = (entry.code, entry.version)
        if key not in self._cache:
            doc = library.load(self._index_dir / entry.structure)
            passages = passages_of(doc)
            units = document_units(doc, passages)
            vectors, embedded = segment_vectors(self._index_dir, entry.code, entry.version, units,
                                                self._embedder, save=False)
            if embedded:
                # Made by another model or from other text: never used as it is. Saved
                # (under the writers' lock) so that the next process finds it fresh.
                log.warning("segment of %s v%d missing or stale: embedded again", entry.code, entry.version)
                with exclusive_lock(self._index_dir / LOCK_FILE):
                    _write_segment(segment_path(self._index_dir, entry.code, entry.version), units, vectors,
                                   self._embedder.name)
            self._cache[key] = (doc, passages, units, vectors)
        return self._cache[key]

    def set_params(self, params: FusionParams) -> None:
        with self._lock:
            self._params = params
            self.current.searcher.params = params

    # -- searching the current snapshot

    def search_many(self, questions: list[str], k: int = 5, wards: list[str | None] | None = None) -> list[SearchResult]:
        snapshot = self.current
        wards = wards or [None] * len(questions)
        scopes = [snapshot.scope(q, w) for q, w in zip(questions, wards)]
        if all(mask is None for mask, _ in scopes):
            results = snapshot.searcher.search_many(questions, k)
        else:
            results = snapshot.searcher.search_many(questions, k, allowed=[mask for mask, _ in scopes])
        out = []
        for question, result, (_, about_announcements) in zip(questions, results, scopes):
            latest = about_announcements and bool(_LATEST_WORDS & set(syllables(question))
                                                  or "gan day" in fold(question))
            result = newest_first(result, latest)
            if about_announcements and result.hits and result.hits[0].passage.announcement:
                # Asked for announcements and there are some in scope: quoting them answers.
                result = replace(result, confident=True)
            out.append(result)
        return out


class LiveSearcher:
    """A searcher that is always the live index's current one (same interface as HybridSearcher)."""

    def __init__(self, live: LiveIndex):
        self.live = live

    def search(self, question: str, k: int = 5, ward: str | None = None) -> SearchResult:
        return self.live.search_many([question], k, [ward])[0]

    def search_many(self, questions: list[str], k: int = 5, wards: list[str | None] | None = None) -> list[SearchResult]:
        return self.live.search_many(questions, k, wards)

    def __getattr__(self, name: str):
        # corpus, dense_manifest, normalise ...: those of the current searcher.
        return getattr(self.live.current.searcher, name)

    @property
    def params(self) -> FusionParams:
        return self.live.current.searcher.params

    @params.setter
    def params(self, value: FusionParams) -> None:
        """Fusion weights (bench/evaluate.py's ablation, bench/calibrate.py): now and in later generations."""
        self.live.set_params(value)

    def close(self) -> None:
        self.live.close()


class LiveKnowledge:
    """What handlers read as ``deps.knowledge``: always the current generation's."""

    def __init__(self, live: LiveIndex):
        self.live = live

    @property
    def corpus(self) -> Corpus:
        return self.live.current.knowledge.corpus

    @property
    def variants(self) -> dict[str, list[str]]:
        return self.live.current.knowledge.variants

    @property
    def catalog(self):
        return self.live.current.knowledge.catalog

    @property
    def enumerations(self):
        return self.live.current.knowledge.enumerations

    def enumeration(self, enumeration_id: str):
        return self.live.current.knowledge.enumeration(enumeration_id)

    @property
    def generation(self) -> int:
        """Changes whenever a document is published, replaced or withdrawn."""
        return self.live.current.generation


def base_index(knowledge: KnowledgeBase, embedder: Embedder, index_dir: Path, rebuild: bool = False,
               progress=None) -> DenseIndex:
    """The bundled sources' saved index, rebuilt when missing or stale (see dense.stale_reason)."""
    units = units_for(knowledge.corpus, knowledge.variants)
    reason = "rebuild requested" if rebuild else dense.stale_reason(index_dir, units, embedder.name)
    if reason:
        log.info("building the search index (%s): %d units", reason, len(units))
        index = dense.build(units, embedder, progress(len(units)) if progress else None)
        dense.save(index, index_dir)
        return index
    return dense.load(index_dir)
