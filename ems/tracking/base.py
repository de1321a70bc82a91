"""The logging interface the trainer and evaluators report to, and a no-op implementation.

Keeping ``mlflow`` behind this interface keeps it out of the model and the losses, and lets
tests run without a tracking store.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class Tracker:
    """Interface: params, step metrics, tags, artifacts, status. Subclasses override."""

    run_id: str | None = None
    experiment_id: str | None = None
    tracking_uri: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, model_id: str | None = None,
                    dataset: tuple[str, str] | None = None) -> None:
        """Log ``metrics`` at ``step``; ``model_id`` (a logged model's id, ``m-...``) links them to that model,
        with ``dataset`` = (name, digest) of what they were measured on."""
        raise NotImplementedError

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Log a file or a whole folder."""
        raise NotImplementedError

    def log_model(self, path: str | os.PathLike[str], name: str = "model") -> str | None:
        """Log a saved model folder as a model of the tracking store (default: as a plain artifact folder);
        return its ``models:/<model id>`` URI, or None."""
        self.log_artifact(path, name)
        return None

    def reopen(self) -> None:
        """Mark a resumed run as running again (called when training really begins)."""

    def close(self, status: str = "FINISHED") -> None:
        raise NotImplementedError


class NullTracker(Tracker):
    """Accepts everything, stores nothing (tests, ``--no-tracking``)."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, model_id: str | None = None,
                    dataset: tuple[str, str] | None = None) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        pass

    def close(self, status: str = "FINISHED") -> None:
        pass


def logged_model_id(uri: str | None) -> str | None:
    """``models:/m-0123`` -> ``m-0123``: the id a tracking store links metrics to; None for anything else."""
    prefix = "models:/"
    if not uri or not uri.startswith(prefix):
        return None
    return uri[len(prefix):].split("/")[0] or None


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"train": {"lr": 1e-3}}`` -> ``{"train.lr": "0.001"}`` (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_params(value, name + "."))
        else:
            out[name] = str(value)
    return out


def git_commit(repo: str | os.PathLike[str] | None = None) -> str:
    """The code's commit (``+dirty`` when the tree has changes); ``unknown`` outside git."""
    cwd = Path(repo) if repo else Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=10,
            check=False
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
