"""EMS model: a Transformer encoder (mean pooled) plus the XTR and contrastive training heads.

The names below are imported on first use (PEP 562), so that ``ems.model.cli`` (and with it
every ``ems`` subcommand) starts without importing torch and transformers (~5 s).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "EmsModel": "ems.model.ems_model", "build_encoder": "ems.model.encoder", "encoder_config": "ems.model.encoder",
    "mean_pool": "ems.model.encoder", "ContrastiveHead": "ems.model.heads", "OfficialXtrHead": "ems.model.heads",
    "XtrHead": "ems.model.heads",
}

__all__ = ["ContrastiveHead", "EmsModel", "OfficialXtrHead", "XtrHead", "build_encoder", "encoder_config", "mean_pool"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'ems.model' has no attribute {name!r}")
