"""The kinds of tracking run (tag ``ems.role``) and a configuration parent run's tags.

A grid's run names and cell / factor / seed tags derive from the factor table:
:mod:`ems.run_names`.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

#: Values of the ``ems.role`` tag, one per kind of run.
ROLE_PARENT = "parent"  # the configuration's run (tracking_setup), carries config + headline table
ROLE_TRAIN = "train"  # one training run of a grid model; its evaluation metrics are logged to it too
ROLE_PEER = "peer"  # one run per peer encoder, all its tasks' metrics
ROLE_STUDY = "study"  # an Optuna study (ems.tune.mlflow_log)
ROLE_TRIAL = "trial"  # one Optuna trial


def parent_tags(config_name: str) -> dict[str, str]:
    """Tags of a configuration's parent run: role, config name, code commit and a first description
    (``mlflow.note.content``; the summary step replaces it with the headline table)."""
    from ems.tracking.base import git_commit

    commit = git_commit()
    return {"ems.role": ROLE_PARENT, "ems.config": config_name, "git_commit": commit,
            "mlflow.source.git.commit": commit,
            "mlflow.note.content": f"EMS configuration `{config_name}` (commit {commit}): its training, evaluation and "
                                   "peer runs are the children of this run; the headline table is logged here "
                                   "when the grid's summary step (`ems mlflow-summary`) has run."}
