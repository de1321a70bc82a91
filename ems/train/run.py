"""``TrainingRun``: everything about one training run, resolved once, before any file is written.

Settings (defaults from the schema), model id, folders, the data / validation / config
hashes and ONE resume decision for the checkpoint and the tracking run together: the
tracking run is continued only when the checkpoint is (same settings, same data, a verified
file); otherwise a fresh run starts, tagged with the id of the run it replaces. The loop
(:class:`ems.train.trainer.Trainer`), its callbacks and :func:`ems.train.entry.run_training`
(which opens the tracking run) all read this one object.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ems.config import config_hash
from ems.errors import DataError
from ems.io import read_json, write_json
from ems.redact import redact_uri
from ems.train.checkpoint import CheckpointScan, find_resumable
from ems.train.settings import Settings, identity_hash, resolve_settings

logger = logging.getLogger(__name__)

#: In the checkpoint folder: the tracking run that logs this checkpoint's trajectory.
TRACKING_MARKER = "tracking.json"


@dataclasses.dataclass(frozen=True)
class Resume:
    """The one resume decision: continue checkpoint and tracking run together, or start both afresh."""

    scan: CheckpointScan  # the checkpoint to continue from (None: from scratch) and the unusable files
    continue_run: Mapping[str, str] | None = None  # the tracking run to continue (tracking_uri, run_id, ...)
    replaces: str | None = None  # a fresh start: the tracking run id it replaces

    @property
    def checkpoint(self) -> Path | None:
        return self.scan.resumable


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    settings: Settings
    model_id: str
    train_dir: Path
    valid_dir: Path
    tokenizer_dir: Path
    out_dir: Path
    checkpoint_dir: Path
    data_hash: str
    valid_hash: str
    config_hash: str
    resume: Resume
    #: the tracking run this training logs to (tracking_uri, run_id, experiment_id; written to run.json);
    #: empty until :meth:`with_tracking`
    logged_to: Mapping[str, str | None] = dataclasses.field(default_factory=dict)

    @property
    def identity(self) -> dict[str, str]:
        """What a checkpoint must match to be resumed."""
        return {"settings": identity_hash(self.settings), "data_hash": self.data_hash, "valid_hash": self.valid_hash}

    def tags(self) -> dict[str, str]:
        """What every tracking run of this training carries, to trace a number to its inputs."""
        tags = {"config_hash": self.config_hash, "data_hash": self.data_hash, "valid_data_hash": self.valid_hash,
                "model_id": self.model_id}
        if self.resume.replaces:
            tags["ems.replaces"] = self.resume.replaces
        from ems.run_names import model_tags  # lazy: the grid module imports snakemake

        return {**tags, **model_tags(self.model_id)}  # cell, factor values, seed: "Group by" in the MLflow UI

    def with_tracking(self, tracking_uri: str | None, run_id: str | None, experiment_id: str | None) -> TrainingRun:
        """This run, logged to the given tracking run; a real run is recorded beside the checkpoints."""
        info = {"tracking_uri": redact_uri(tracking_uri) if tracking_uri else None, "run_id": run_id, "experiment_id": experiment_id}
        if run_id:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            write_json(self.checkpoint_dir / TRACKING_MARKER, {**info, "identity": self.identity})
        return dataclasses.replace(self, logged_to=info)


def _meta(folder: Path) -> dict[str, Any]:
    path = folder / "meta.json"
    try:
        return read_json(path)
    except FileNotFoundError:
        raise DataError(f"{path}: not found (is {folder} a shards folder?)") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None


def decide_resume(checkpoint_dir: Path, identity: dict[str, str]) -> Resume:
    """Resume the tracking run exactly when the checkpoint is resumed and was logged to it."""
    scan = find_resumable(checkpoint_dir, identity)
    marker_path = checkpoint_dir / TRACKING_MARKER
    marker = read_json(marker_path) if marker_path.exists() else None
    if scan.resumable is not None and marker and marker.get("identity") == identity:
        return Resume(scan, continue_run=marker)
    if marker:
        logger.info("%s: a fresh start, so a new tracking run (replacing %s)", checkpoint_dir, marker.get("run_id"))
    return Resume(scan, replaces=marker.get("run_id") if marker else None)


def resolve_run(
    settings: Mapping[str, Any],
    train_dir: str | os.PathLike[str],
    valid_dir: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    model_id: str | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> TrainingRun:
    """Validate everything and decide the resume; reads only (a bad input leaves no file)."""
    s = resolve_settings(settings)
    out = Path(out_dir)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else out / "checkpoints"
    train_meta, valid_meta = _meta(Path(train_dir)), _meta(Path(valid_dir))
    run = TrainingRun(
        settings=s, model_id=model_id or "/".join(out.resolve().parts[-2:]), train_dir=Path(train_dir),
        valid_dir=Path(valid_dir), tokenizer_dir=Path(tokenizer_dir), out_dir=out, checkpoint_dir=ckpt,
        data_hash=str(train_meta.get("content_sha256")), valid_hash=str(valid_meta.get("content_sha256")),
        config_hash=config_hash(s.to_dict()), resume=Resume(CheckpointScan(None)),
    )
    return dataclasses.replace(run, resume=decide_resume(ckpt, run.identity))
