"""What a finished training run leaves in its model folder (rank 0), ``run.json`` last.

``model/`` (encoder + tokenizer), ``heads.pt``, ``history.csv``, ``settings.resolved.json``,
``loss_curve.png``; then, once the callbacks have had ``on_model_saved`` (the tracking plug-in logs
the artifacts there), ``run.json``: the rule's completion marker. Their names: one list,
:data:`ems.paths.MODEL_FOLDER_FILES`, which the train rule declares as its outputs.
"""

from __future__ import annotations

import logging
from typing import Any

from ems.io import atomic_open, write_json
from ems.model.ems_model import EmsModel
from ems.model.io import save_model
from ems.paths import model_file
from ems.train.callbacks import TrainerControl, TrainerState
from ems.train.checkpoint import save_checkpoint
from ems.train.run import TrainingRun

logger = logging.getLogger(__name__)


def write_model(run: TrainingRun, model: EmsModel, languages: list[str], state: TrainerState, max_length: int) -> None:
    """The model folder's files, each written atomically (run.json excepted: see :func:`write_run_json`)."""
    import pandas as pd

    from ems.redact import redact_value
    from ems.train.figures import plot_history

    # no URI password reaches the model folder, heads.pt or settings.resolved.json (nor the MLflow
    # artifacts made of them), whatever `ems train --settings` was given
    out, settings = run.out_dir, redact_value(run.settings.to_dict())
    out.mkdir(parents=True, exist_ok=True)
    from ems.tracking.base import git_commit

    info = {"model_id": run.model_id, "languages": languages, "best_step": state.best_step,
            **state.best_dev(), "steps": state.step, "settings": settings,
            # provenance for the model card (ems.model.card)
            "data_hash": run.data_hash, "valid_data_hash": run.valid_hash, "config_hash": run.config_hash,
            "git_commit": git_commit(), "mlflow_run_id": run.logged_to.get("run_id")}
    save_model(model.encoder, run.tokenizer_dir, model_file(out, "model"), max_length, info)
    save_checkpoint(model_file(out, "heads"), {"heads": model.heads_state_dict(), "languages": languages,
                                       "settings": settings, "step": state.best_step})
    with atomic_open(model_file(out, "history")) as fh:
        pd.DataFrame(state.history).to_csv(fh, index=False)
    write_json(model_file(out, "settings"), settings)
    plot_history(state.history, model_file(out, "curve"))


def write_run_json(run: TrainingRun, state: TrainerState, control: TrainerControl) -> dict[str, Any]:
    """Write ``run.json`` (tracking run, model id, hashes); return the run's summary."""
    tracking = {"run_id": None, "experiment_id": None, "tracking_uri": None, **run.logged_to}
    result = {**tracking, "model_id": run.model_id, "config_hash": run.config_hash, "data_hash": run.data_hash}
    write_json(model_file(run.out_dir, "run"), result)
    best = state.best_dev()
    logger.info("saved %s (best step %d: dev retrieval acc %s, dev loss %s)", model_file(run.out_dir, "model"),
                state.best_step, best["best_dev_retrieval_acc"], best["best_dev_loss"])
    return {**result, **best, "best_step": state.best_step, "steps": state.step,
            "stopped": control.stop_reason}
