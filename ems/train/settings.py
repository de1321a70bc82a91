"""Typed views of the ``model``, ``objective`` and ``train`` config sections.

``resolve_settings`` validates the sections it is given against the project schema (the
same defaults and key-naming errors as ``ems.config.validate_config``) so that ``ems train``
behaves the same in and out of Snakemake.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from ems.config import validate_sections
from ems.errors import ConfigError

logger = logging.getLogger(__name__)

SECTIONS = ("model", "objective", "train", "tracking")


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    layers: int = 2
    hidden_size: int = 256
    heads: int = 4
    ffn_size: int = 1024
    activation: str = "gelu"
    dropout: float = 0.1
    max_positions: int = 128
    lang_embedding_dim: int = 128
    projection_dim: int = 128
    tie_xtr_output: bool = False
    xtr_head: str = "compact"


@dataclasses.dataclass(frozen=True)
class ObjectiveSettings:
    xtr_weight: float = 1.0
    contrastive_weight: float = 2.0
    temperature: float = 0.1
    language_embedding: bool = True
    xtr_target: str = "normalised"
    gather_negatives: bool = False


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    batch_size: int = 128
    max_tokens: int | None = None
    bucketing: bool = True
    optimizer: str = "adam"
    lr: float = 3.0e-4
    weight_decay: float = 1.0e-5
    amsgrad: bool = True
    warmup_steps: int = 300
    schedule: str = "cosine"
    max_steps: int = 100000
    max_epochs: float | None = None
    max_seconds: float | None = None
    grad_clip: float | None = 1.0
    grad_accumulation: int = 1
    precision: str = "auto"
    device: str = "auto"
    num_threads: int | None = None
    eval_every: int = 200
    dev_pairs_per_language: int | None = None
    checkpoint_every: int = 200
    early_stopping_patience: int | None = None
    log_every: int = 20
    seed: int = 1


@dataclasses.dataclass(frozen=True)
class Settings:
    model: ModelSettings
    objective: ObjectiveSettings
    train: TrainSettings
    raw: dict[str, Any]  # the resolved sections, as logged and saved

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


def _validate_sections(settings: Mapping[str, Any]) -> dict[str, Any]:
    return validate_sections(settings, SECTIONS, "training", extra_keys=("name", "results_dir"))


def _build(cls: type, section: Mapping[str, Any], name: str) -> Any:
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(section) - fields
    if unknown:
        raise ConfigError(f"unknown key(s) in {name}: {', '.join(sorted(unknown))}")
    return cls(**dict(section))


def resolve_settings(settings: Mapping[str, Any]) -> Settings:
    """Validate and fill defaults of the training sections; raise ConfigError naming the key."""
    cfg = _validate_sections(settings)
    return Settings(
        model=_build(ModelSettings, cfg["model"], "model"),
        objective=_build(ObjectiveSettings, cfg["objective"], "objective"),
        train=_build(TrainSettings, cfg["train"], "train"),
        raw=cfg,
    )


def identity_hash(s: Settings) -> str:
    """Hash of what determines a run's trajectory (threads and tracking excluded): a checkpoint
    or MLflow run is resumed only under the same identity."""
    from ems.config import config_hash

    raw = s.to_dict()
    raw.get("train", {}).pop("num_threads", None)
    for key in ("tracking", "name", "results_dir"):
        raw.pop(key, None)
    return config_hash(raw)
