"""Embed text with the exported ONNX graphs alone: onnxruntime and `tokenizers`, no torch.

Answering a question needs one forward pass of the encoder. Loading torch,
transformers and sentence-transformers for it took 7.5 of the 12–21 s a
cold `civicbot ask` needed; this module does the same work with the graphs
`retrieval.onnx_encoder` exported, the model's own tokenizer.json and a few
lines of numpy, and starts in about a second.

It reproduces sentence-transformers' path exactly: the prompt ("query: ")
before each text, texts sorted by length and embedded 32 at a time (so
padding is the same), truncation to the model's max_seq_length, mean
pooling over the attention mask, L2 normalisation. Tests compare its
vectors with sentence-transformers' on the whole corpus.

What it needs is recorded at export time in a manifest beside the graphs
(`ExportManifest`): the configured model name, the source folder and the
identity of its weight files (a changed file makes the export stale), the
tokenizer settings and the prompts. A model without such an export (never
exported, or whose pipeline is not Transformer + mean pooling) is not
served here: `bot.app.build_embedder` falls back to sentence-transformers,
which exports it for the next start.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retrieval.embedder import index_identity

log = logging.getLogger(__name__)

MANIFEST_FILE = "civicbot_export.json"
MANIFEST_VERSION = 1
BATCH_SIZE = 32          # sentence-transformers' default, which the index was built with


@dataclass(frozen=True)
class ExportManifest:
    model: str                      # CIVICBOT_EMBEDDING_MODEL the export was made for
    source: str                     # the model folder it was exported from
    weights: list[list]             # [file name, size, mtime_ns] of the source's weight files
    tokenizer: str                  # the source's tokenizer.json
    max_seq_length: int
    pad_token: str
    pad_id: int
    do_lower_case: bool
    dim: int
    prompts: dict[str, str] = field(default_factory=dict)
    float32_file: str = "model.onnx"
    int8_file: str | None = None
    version: int = MANIFEST_VERSION

    def write(self, folder: Path) -> None:
        tmp = folder / (MANIFEST_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(folder / MANIFEST_FILE)

    @classmethod
    def read(cls, folder: Path) -> "ExportManifest | None":
        try:
            data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        return manifest if manifest.version == MANIFEST_VERSION else None


def weights_identity(source: Path) -> list[list]:
    """The weight files of a model folder, by name, size and modification time (no reading)."""
    found = []
    for weights in sorted(source.glob("*.safetensors")) + sorted(source.glob("*.bin")):
        stat = weights.stat()
        found.append([weights.name, stat.st_size, stat.st_mtime_ns])
    return found


def find_export(cache_dir: Path, model_name: str) -> tuple[Path, ExportManifest] | None:
    """The current ONNX export of ``model_name`` under ``cache_dir``, if there is one."""
    for manifest_path in sorted((cache_dir / "onnx").glob(f"*/{MANIFEST_FILE}")):
        folder = manifest_path.parent
        manifest = ExportManifest.read(folder)
        if manifest is None or manifest.model != model_name:
            continue
        source = Path(manifest.source)
        if not source.is_dir() or weights_identity(source) != manifest.weights:
            continue                 # the model changed since: sentence-transformers re-exports it
        if (folder / manifest.float32_file).exists() and Path(manifest.tokenizer).exists():
            return folder, manifest
    return None


class OnnxEmbedder:
    """The `Embedder` protocol over an ONNX export: loads lazily, once, thread-safely."""

    def __init__(self, folder: Path, manifest: ExportManifest, threads: int | None = None,
                 query_precision: str = "int8", passage_precision: str = "float32"):
        int8 = manifest.int8_file
        self.name = index_identity(manifest.model, passage_precision if int8 else "float32")
        self.dim = manifest.dim
        self.folder = folder
        self.manifest = manifest
        self._threads = threads
        self._query_file = int8 if query_precision == "int8" and int8 else manifest.float32_file
        self._passage_file = int8 if passage_precision == "int8" and int8 else manifest.float32_file
        self._tokenizer = None
        self._sessions: dict[str, object] = {}
        self._lock = threading.Lock()

    @classmethod
    def find(cls, cache_dir: Path, model_name: str, threads: int | None = None,
             query_precision: str = "int8", passage_precision: str = "float32") -> "OnnxEmbedder | None":
        found = find_export(cache_dir, model_name)
        return (cls(*found, threads=threads, query_precision=query_precision, passage_precision=passage_precision)
                if found else None)

    def warm_up(self) -> None:
        """Load the tokenizer and the question graph, and run it once."""
        self.embed_queries(["Nghị quyết 05"])

    @property
    def loaded(self) -> bool:
        return self._query_file in self._sessions

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.manifest.prompts.get("query", ""), self._query_file)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.manifest.prompts.get("passage", ""), self._passage_file)

    # -- the work -----------------------------------------------------------------

    def _encode(self, texts: list[str], prompt: str, graph: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokenizer, session = self._load(graph)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first, in batches: the same batches, hence the same padding, as sentence-transformers.
        order = np.argsort([-len(text) for text in texts])
        for start in range(0, len(texts), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            inputs = [(prompt + texts[i]).strip() for i in batch]
            if self.manifest.do_lower_case:
                inputs = [text.lower() for text in inputs]
            encoded = tokenizer.encode_batch(inputs)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
            vectors[batch] = _mean_pooled(hidden, mask)
        return vectors

    def _load(self, graph: str):
        if self._tokenizer is None or graph not in self._sessions:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = self._open_tokenizer()
                if graph not in self._sessions:
                    self._sessions[graph] = self._open_session(self.folder / graph)
        return self._tokenizer, self._sessions[graph]

    def _open_tokenizer(self):
        from tokenizers import Tokenizer

        m = self.manifest
        tokenizer = Tokenizer.from_file(m.tokenizer)
        # What transformers' fast tokenizer sets for each sentence-transformers call.
        tokenizer.enable_truncation(m.max_seq_length, strategy="longest_first", direction="right")
        tokenizer.enable_padding(direction="right", pad_id=m.pad_id, pad_token=m.pad_token)
        return tokenizer

    def _open_session(self, path: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if self._threads:
            options.intra_op_num_threads = self._threads
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the real tokens, then unit length (sentence-transformers' Pooling + Normalize)."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    vectors = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)
