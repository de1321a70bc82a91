"""Import the authors' checkpoint (github Mao-KU/EMS ``EMS_model.pt``) as one of our model folders.

The official training saves ``{"state_dict": DDP state dict ("module." prefixes), "best_loss",
"step", "optimizer", ...}`` of ``BilingualModel`` (``modeling/model_v2.py``). Every tensor is
mapped onto :class:`ems.model.ems_model.EmsModel` with ``model.xtr_head: official``: the encoder
becomes a stock ``BertModel`` (the saved folder), the XTR head and the contrastive projection go
to ``heads.pt`` beside it. The mapping is strict: every official key is used, every one of ours
is filled, shapes must agree, and the first key that does not fit is named.

Two things differ in form, not in the vectors (proved by tests/test_official.py against the
official inference on random weights, max abs difference <= 1e-5):

- positions: the official table has ``max_seq_len + 1`` rows and numbers tokens from 1 (row 0 is
  padding); ``BertModel`` numbers from 0, so rows 1.. are copied and the model keeps 120 positions.
- ``BertModel`` adds a token-type embedding that the official model does not have: it is zero.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ems.errors import DataError
from ems.io import sha256_file

logger = logging.getLogger(__name__)

#: official key (without "module.") -> our EmsModel key; ``{i}`` is a layer number.
_PATTERNS: list[tuple[str, str]] = [
    (r"model\.bert\.embedding\.word_embedding\.embedding\.weight", "encoder.embeddings.word_embeddings.weight"),
    (r"model\.bert\.embedding\.position_embedding\.position_embeddings\.weight",
     "encoder.embeddings.position_embeddings.weight"),
    (r"model\.bert\.embedding\.layer_norm\.(weight|bias)", r"encoder.embeddings.LayerNorm.\1"),
    (r"model\.bert\.encoder\.layer\.(\d+)\.attention\.self_attention\.(query|key|value)\.(weight|bias)",
     r"encoder.encoder.layer.\1.attention.self.\2.\3"),
    (r"model\.bert\.encoder\.layer\.(\d+)\.attention\.output\.(dense|LayerNorm)\.(weight|bias)",
     r"encoder.encoder.layer.\1.attention.output.\2.\3"),
    (r"model\.bert\.encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)",
     r"encoder.encoder.layer.\1.intermediate.dense.\2"),
    (r"model\.bert\.encoder\.layer\.(\d+)\.output\.(dense|LayerNorm)\.(weight|bias)",
     r"encoder.encoder.layer.\1.output.\2.\3"),
    (r"model\.la_tag_linear\.embedding\.weight", "xtr_head.lang_embedding.embedding.weight"),
    (r"model\.la_tag_linear\.layer_norm\.(weight|bias)", r"xtr_head.lang_embedding.norm.\1"),
    # older checkpoints name the transform model.decoder.transform (official Evaluator.load_model)
    (r"model\.(?:decoder\.)?transform\.dense\.(weight|bias)", r"xtr_head.dense.\1"),
    (r"model\.(?:decoder\.)?transform\.LayerNorm\.(weight|bias)", r"xtr_head.norm.\1"),
    (r"model\.decoder\.decoder\.weight", "xtr_head.output.weight"),
    (r"alignproj\.0\.(weight|bias)", r"contrastive_head.net.0.\1"),
    (r"alignproj\.3\.(weight|bias)", r"contrastive_head.net.2.\1"),
]
POSITIONS = "encoder.embeddings.position_embeddings.weight"
#: Ours, absent from the official model: zero, so it adds nothing.
ZERO_KEYS = ("encoder.embeddings.token_type_embeddings.weight",)


def our_key(official: str) -> str | None:
    """Our key of an official one (``module.`` stripped first); None when no rule maps it."""
    key = official.removeprefix("module.")
    for pattern, target in _PATTERNS:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, target, key)
    return None


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict and the scalars (``step``, ``best_loss``) of an official checkpoint (tensors only:
    ``weights_only``, so a checkpoint cannot run code)."""
    try:
        # numpy scalars (the official best_loss starts as np.inf) are allowed, nothing else that runs code
        with torch.serialization.safe_globals(_numpy_scalar_globals()):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, Mapping) or not state:
        raise DataError(f"{path}: no 'state_dict' (an official EMS checkpoint holds state_dict, best_loss, step)")
    extra = {k: (v.item() if isinstance(v, torch.Tensor) and v.numel() == 1 else v)
             for k, v in ckpt.items() if k in ("step", "best_loss", "epoch")}
    return dict(state), extra


def _numpy_scalar_globals() -> list[Any]:
    import numpy as np

    scalar = getattr(getattr(np, "_core", None), "multiarray", None) or np.core.multiarray
    return [scalar.scalar, np.dtype, *(type(np.dtype(t)) for t in ("float64", "float32", "int64"))]


def architecture(state: Mapping[str, torch.Tensor], heads: int, activation: str) -> dict[str, Any]:
    """Our ``model`` settings of the checkpoint (sizes from the tensors; heads and activation are not stored)."""
    def shape(key: str) -> tuple[int, ...]:
        for k in (key, f"module.{key}"):
            if k in state:
                return tuple(state[k].shape)
        raise DataError(f"official checkpoint: key {key!r} missing (not an EMS BilingualModel state dict)")

    vocab, hidden = shape("model.bert.embedding.word_embedding.embedding.weight")
    layers = {int(m[1]) for k in state if (m := re.search(r"bert\.encoder\.layer\.(\d+)\.", k))}
    n_languages, lang_dim = shape("model.la_tag_linear.embedding.weight")
    return {
        "vocab_size": vocab, "n_languages": n_languages,
        "model": {"layers": len(layers), "hidden_size": hidden, "heads": int(heads),
                  "ffn_size": shape("model.bert.encoder.layer.0.intermediate.dense.weight")[0],
                  "activation": activation, "dropout": 0.0,
                  "max_positions": shape("model.bert.embedding.position_embedding.position_embeddings.weight")[0] - 1,
                  "lang_embedding_dim": lang_dim, "projection_dim": shape("alignproj.3.weight")[0],
                  "xtr_head": "official", "tie_xtr_output": False, "init": "official"},
    }


def map_state(official: Mapping[str, torch.Tensor], ours: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict filled from the official one; DataError naming the first key that does not fit."""
    out: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        target = our_key(key)
        if target is None or target not in ours:
            raise DataError(f"official checkpoint: key {key!r} has no place in our model"
                            + (f" (mapped to {target!r})" if target else ""))
        if target in out:
            raise DataError(f"official checkpoint: keys {key!r} and another both map to {target!r}")
        if target == POSITIONS:
            value = value[1:]  # official position 1 is our position 0 (row 0 is the official padding)
        if tuple(value.shape) != tuple(ours[target].shape):
            raise DataError(f"official checkpoint: key {key!r} has shape {tuple(value.shape)}, our {target!r} "
                            f"needs {tuple(ours[target].shape)}")
        out[target] = value.to(ours[target].dtype)
    for key in ZERO_KEYS:
        if key in ours:
            out[key] = torch.zeros_like(ours[key])
    missing = [k for k in ours if k not in out]
    if missing:
        raise DataError(f"official checkpoint: our key {missing[0]!r} is not filled by any official key "
                        f"({len(missing)} in all)")
    return out


def import_official(checkpoint: str | os.PathLike[str], tokenizer_dir: str | os.PathLike[str],
                    out: str | os.PathLike[str], heads: int = 16, activation: str = "swish",
                    sha256: str | None = None, heads_out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Write ``out`` (a model folder: ``ems embed``, sentence-transformers, transformers) from an official
    checkpoint; ``tokenizer_dir`` is the official tokenizer folder (``tokenizer.model: official``)."""
    from ems.data.tokenizer import SavedTokenizer
    from ems.model.ems_model import EmsModel
    from ems.model.io import save_model

    tokenizer = SavedTokenizer(tokenizer_dir)
    if tokenizer.official is None:
        raise DataError(f"{tokenizer_dir}: not the official tokenizer folder (build it with tokenizer.model: official)")
    digest = sha256_file(checkpoint)
    if sha256 and digest != sha256.lower():
        raise DataError(f"{checkpoint}: sha256 {digest} differs from the expected {sha256}; download it again")
    state, extra = read_checkpoint(checkpoint)
    arch = architecture(state, heads, activation)
    model = EmsModel(arch["model"], {"xtr_weight": 1.0, "contrastive_weight": 1.0, "language_embedding": True},
                     arch["vocab_size"], arch["n_languages"])
    model.load_state_dict(map_state(state, model.state_dict()), strict=True)
    model.eval()
    info = {
        "model_id": "official-ems", "imported_from": Path(checkpoint).name, "checkpoint_sha256": digest,
        "official_step": extra.get("step"), "official_best_loss": extra.get("best_loss"), "tokenizer": "official",
        "languages": list(tokenizer.ems_languages), "settings": {"model": arch["model"]},
    }
    save_model(model.encoder, tokenizer_dir, out, arch["model"]["max_positions"], info)
    if heads_out:
        from ems.io import atomic_open

        with atomic_open(heads_out, "wb") as fh:
            torch.save(model.heads_state_dict(), fh)
    logger.info("imported %s (sha256 %s, step %s): %d layers x %d hidden -> %s", checkpoint, digest[:12],
                extra.get("step"), arch["model"]["layers"], arch["model"]["hidden_size"], out)
    return info

