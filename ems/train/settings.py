"""Typed views of the ``model``, ``objective`` and ``train`` config sections.

The schema (workflow/schemas/config.schema.yaml) is the only place where their defaults
live: :func:`resolve_settings` reads each section through :func:`ems.config.section`, so
``ems train`` behaves the same in and out of Snakemake. Keep each dataclass's fields equal
to its schema section's keys.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from ems.config import config_hash, section, sections
from ems.errors import ConfigError

logger = logging.getLogger(__name__)

SECTIONS = ("model", "objective", "train", "tracking")
#: Every top-level key ``ems train --settings`` accepts; any other is an error.
TOP_LEVEL_KEYS = (*SECTIONS, "name", "results_dir")


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    layers: int
    hidden_size: int
    heads: int
    ffn_size: int
    activation: str
    dropout: float
    max_positions: int
    lang_embedding_dim: int
    projection_dim: int
    tie_xtr_output: bool
    xtr_head: str
    init: str


@dataclasses.dataclass(frozen=True)
class ObjectiveSettings:
    xtr_weight: float
    contrastive_weight: float
    temperature: float
    language_embedding: bool
    xtr_target: str
    gather_negatives: bool


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    batch_size: int
    max_tokens: int | None
    bucketing: bool
    drop_last: bool
    optimizer: str
    lr: float
    weight_decay: float
    amsgrad: bool
    warmup_steps: int
    schedule: str
    max_steps: int
    max_epochs: float | None
    max_seconds: float | None
    grad_clip: float | None
    grad_accumulation: int
    precision: str
    device: str
    num_threads: int | None
    eval_every: int
    dev_pairs_per_language: int | None
    checkpoint_every: int
    early_stopping_patience: int | None
    select_on: str
    log_every: int
    seed: int


@dataclasses.dataclass(frozen=True)
class Settings:
    model: ModelSettings
    objective: ObjectiveSettings
    train: TrainSettings
    raw: dict[str, Any]  # the resolved sections, as logged and saved

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


def check_top_level(settings: Mapping[str, Any]) -> None:
    """Raise ConfigError naming every top-level key that ``ems train`` does not know."""
    unknown = sorted(set(settings) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"unknown top-level key(s) in the training settings: {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(TOP_LEVEL_KEYS)})")


def resolve_settings(settings: Mapping[str, Any]) -> Settings:
    """Validate the training sections and fill the schema's defaults; raise ConfigError naming the key."""
    check_top_level(settings)
    model = section(settings, "model", into=ModelSettings)
    objective = section(settings, "objective", into=ObjectiveSettings)
    train = section(settings, "train", into=TrainSettings)
    raw: dict[str, Any] = {"model": dataclasses.asdict(model), "objective": dataclasses.asdict(objective),
                           "train": dataclasses.asdict(train), "tracking": section(settings, "tracking")}
    top = sections({k: settings[k] for k in ("name", "results_dir") if k in settings}, (), what="settings (training)",
                   extra_keys=("name", "results_dir"), strict=False)  # results_dir's schema default
    raw.update(top)
    return Settings(model=model, objective=objective, train=train, raw=raw)


def identity_hash(s: Settings) -> str:
    """Hash of what determines a run's trajectory (threads and tracking excluded): a checkpoint
    or tracking run is resumed only under the same identity."""
    raw = s.to_dict()
    raw.get("train", {}).pop("num_threads", None)
    for key in ("tracking", "name", "results_dir"):
        raw.pop(key, None)
    return config_hash(raw)
