"""Run a sentence-transformers model's encoder in ONNX Runtime.

sentence-transformers stays the interface: tokenizer, prompts, batching,
pooling and normalisation are its own. Only the transformer's forward pass
is swapped for an ONNX Runtime session, which on two cores is about twice as
fast in batches and three times as fast for one short question, with the
same vectors (cosine > 0.9999, checked on every export). sentence-transformers'
own ONNX backend would need `optimum`, whose releases pin transformers 4.

The export happens once per model, into the cache directory, atomically and
under a file lock; a model that cannot be exported, or whose export does not
reproduce the PyTorch vectors, keeps running in PyTorch. Weights are saved
as ONNX external data, which ONNX Runtime memory-maps: loading costs almost
no memory, and of the 250,000-row vocabulary only the rows in use become
resident. The PyTorch copy of the weights is released once replaced.

Questions can go through an 8-bit copy of the graph (dynamic int8 MatMuls,
per-channel weight scales), 2.3x faster on CPU, while passages are always
embedded in float32: a question's vector then moves by cosine ~0.996, which
left dev and held-out rankings as they were (held-out hit@3 0.950 → 0.944,
dev unchanged). The 8-bit copy is checked against float32 on export too.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import torch

from retrieval.locking import exclusive_lock
from retrieval.onnx_embedder import ExportManifest, weights_identity

log = logging.getLogger(__name__)

EXPORT_VERSION = 3
MODEL_FILE = "model.onnx"
DATA_FILE = "model.onnx.data"
INT8_FILE = "model-int8.onnx"
OPSET = 17
MIN_PROBE_COSINE = 0.9999
MIN_INT8_COSINE = 0.99
_PROBE = ["query: Nghị quyết 05 về xây dựng mô hình Chủ nghĩa xã hội tại Hải Phòng",
          "passage: ngắn", "query: hello world, how are you today?"]


class OnnxEncoder(torch.nn.Module):
    """Stands in for the Hugging Face encoder inside sentence-transformers' Transformer module.

    Holds the float32 graph and, when given, the 8-bit one; ``precision``
    picks which one the calling thread's forward passes use. Each session is
    created on first use: a server whose index is fresh never loads float32.
    """

    def __init__(self, path: Path, config, threads: int | None = None, int8_path: Path | None = None):
        super().__init__()
        self.config = config     # sentence-transformers reads it (hidden size, output flags)
        self._paths = {"float32": path, "int8": int8_path or path}
        self._threads = threads
        self._sessions: dict[str, object] = {}
        self._load_lock = threading.Lock()
        self._local = threading.local()

    @property
    def has_int8(self) -> bool:
        return self._paths["int8"] != self._paths["float32"]

    @contextmanager
    def precision(self, name: str):
        """Run this thread's forward passes on ``name`` ("float32" or "int8")."""
        previous = getattr(self._local, "precision", "float32")
        self._local.precision = name
        try:
            yield
        finally:
            self._local.precision = previous

    def _session(self):
        path = self._paths[getattr(self._local, "precision", "float32")]
        session = self._sessions.get(str(path))
        if session is None:
            with self._load_lock:
                session = self._sessions.get(str(path))
                if session is None:
                    session = self._sessions[str(path)] = _open_session(path, self._threads)
        return session

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_unused) -> dict:
        (hidden,) = self._session().run(None, {
            "input_ids": input_ids.numpy().astype(np.int64),
            "attention_mask": attention_mask.numpy().astype(np.int64),
        })
        return {"last_hidden_state": torch.from_numpy(hidden)}


def _open_session(path: Path, threads: int | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _Encoder(torch.nn.Module):
    """What gets exported: token ids and mask in, last hidden state out."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def accelerate(model, cache_dir: Path, threads: int | None = None, model_name: str | None = None) -> bool:
    """Swap ``model``'s encoder for ONNX Runtime; False (PyTorch kept) when that is not possible.

    With ``model_name`` (as configured), the export also gets the manifest that
    lets `retrieval.onnx_embedder` answer questions without torch next time.
    """
    transformer = model[0]
    encoder = getattr(transformer, "model", None)
    if not isinstance(encoder, torch.nn.Module) or not hasattr(encoder, "config"):
        return False
    folder = cache_dir / "onnx" / _fingerprint(encoder)
    try:
        if not folder.exists():
            with exclusive_lock(folder.with_suffix(".lock")):
                if not folder.exists():
                    _export(model, encoder, folder)
        int8 = folder / INT8_FILE
        if model_name is not None:
            _write_manifest(model, encoder, folder, model_name, int8.exists())
        transformer.model = OnnxEncoder(folder / MODEL_FILE, encoder.config, threads,
                                        int8 if int8.exists() else None)
        del encoder
        _release_freed_memory()
        return True
    except Exception:
        log.warning("ONNX Runtime acceleration unavailable; the encoder stays in PyTorch", exc_info=True)
        return False


def _write_manifest(model, encoder: torch.nn.Module, folder: Path, model_name: str, has_int8: bool) -> None:
    """Record what `retrieval.onnx_embedder` needs to reproduce this model's vectors without torch.

    Only for the pipeline it reproduces (Transformer, mean pooling over every
    token, optional Normalize) and a fast tokenizer saved as tokenizer.json;
    any other model keeps going through sentence-transformers.
    """
    from sentence_transformers.models import Normalize, Pooling

    source = Path(getattr(encoder.config, "_name_or_path", "") or "")
    tokenizer = model.tokenizer
    modules = list(model)
    pooling = modules[1] if len(modules) > 1 else None
    plain_mean = (
        isinstance(pooling, Pooling) and pooling.get_config_dict().get("pooling_mode") in (None, "mean")
        and getattr(pooling, "pooling_mode_mean_tokens", True) and getattr(pooling, "include_prompt", True)
        and all(isinstance(m, Normalize) for m in modules[2:])
    )
    if not (plain_mean and source.is_dir() and (source / "tokenizer.json").exists()
            and tokenizer.pad_token is not None):
        log.info("no torch-free path for %s: its pipeline or tokenizer is not the plain one", model_name)
        return
    manifest = ExportManifest(
        model=model_name, source=str(source.resolve()), weights=weights_identity(source),
        tokenizer=str((source / "tokenizer.json").resolve()), max_seq_length=int(model.max_seq_length),
        pad_token=tokenizer.pad_token, pad_id=int(tokenizer.pad_token_id),
        do_lower_case=bool(getattr(modules[0], "do_lower_case", False)),
        dim=int(model.get_embedding_dimension()), prompts=dict(getattr(model, "prompts", {}) or {}),
        float32_file=MODEL_FILE, int8_file=INT8_FILE if has_int8 else None,
    )
    if ExportManifest.read(folder) != manifest:
        manifest.write(folder)


def _export(model, encoder: torch.nn.Module, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    batch = model.tokenizer(_PROBE, padding=True, return_tensors="pt")
    wrapped = _Encoder(encoder.eval())
    tmp_dir = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    traced = tmp_dir / "traced.onnx"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # Tracing warns about shape-dependent branches of the attention
            # mask code; the probe comparison below is what proves the graph.
            warnings.simplefilter("ignore")
            # The reference first: a module just traced for export can answer differently.
            expected = _pooled(wrapped(batch["input_ids"], batch["attention_mask"]).numpy(), batch)
            torch.onnx.export(
                wrapped, (batch["input_ids"], batch["attention_mask"]), str(traced),
                input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                dynamic_axes={name: {0: "batch", 1: "tokens"}
                              for name in ("input_ids", "attention_mask", "last_hidden_state")},
                opset_version=OPSET, dynamo=False,
            )
        onnx.save_model(onnx.load(str(traced)), str(tmp_dir / MODEL_FILE), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=DATA_FILE, size_threshold=1024)
        traced.unlink()
        got = _pooled(OnnxEncoder(tmp_dir / MODEL_FILE, encoder.config)
                      .forward(**batch)["last_hidden_state"].numpy(), batch)
        cosine = float((expected * got).sum(axis=1).min())
        if cosine < MIN_PROBE_COSINE:
            raise ValueError(f"ONNX export differs from PyTorch (cosine {cosine:.6f})")
        _export_int8(tmp_dir, encoder.config, batch, expected)
        tmp_dir.chmod(0o755)  # mkdtemp makes it private; the service account must read it
        for path in tmp_dir.iterdir():
            path.chmod(0o644)
        os.replace(tmp_dir, folder)
        log.info("encoder exported to ONNX: %s", folder)
        _remove_superseded(folder)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _export_int8(folder: Path, config, batch, expected: np.ndarray) -> None:
    """Write the 8-bit copy beside the float32 graph, unless it strays too far
    from it (then questions stay in float32: slower, never worse)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = folder / INT8_FILE
    try:
        quantize_dynamic(folder / MODEL_FILE, target, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], use_external_data_format=True)
        int8_encoder = OnnxEncoder(folder / MODEL_FILE, config, int8_path=target)
        with int8_encoder.precision("int8"):
            got = _pooled(int8_encoder.forward(**batch)["last_hidden_state"].numpy(), batch)
        cosine = float((expected * got).sum(axis=1).min())
        if cosine < MIN_INT8_COSINE:
            raise ValueError(f"int8 copy strays from float32 (cosine {cosine:.4f})")
    except Exception:
        log.warning("no int8 copy of the encoder; questions are embedded in float32", exc_info=True)
        for path in folder.glob(INT8_FILE + "*"):
            path.unlink()


def _remove_superseded(current: Path) -> None:
    """Earlier exports (older weights or exporter) are 470 MB each; a process still
    using one keeps its memory map, so removing the files is safe."""
    for other in current.parent.iterdir():
        if other.is_dir() and other != current and not other.name.startswith(".export-"):
            shutil.rmtree(other, ignore_errors=True)
            other.with_suffix(".lock").unlink(missing_ok=True)


def _release_freed_memory() -> None:
    """Hand the replaced PyTorch weights back to the system (glibc keeps freed heap otherwise)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: the memory is reused by the process instead
        pass


def _pooled(hidden: np.ndarray, batch) -> np.ndarray:
    mask = batch["attention_mask"].numpy()[..., None]
    vectors = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _fingerprint(encoder: torch.nn.Module) -> str:
    """Changes with the weight files, the architecture, the exporter and torch.

    Read from the files' identity on disk (size, modification time), not from
    the tensors, which would cost a pass over (and a copy of) every weight.
    """
    config = encoder.config
    digest = hashlib.sha256(f"{EXPORT_VERSION}|{torch.__version__}|{config.to_json_string()}".encode())
    source = Path(getattr(config, "_name_or_path", "") or "")
    if source.is_dir():
        for weights in sorted(source.glob("*.safetensors")) + sorted(source.glob("*.bin")):
            stat = weights.stat()
            digest.update(f"{weights.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]
