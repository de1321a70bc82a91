# Shared helpers for every stage: config validation, paths, the ems command.
import json
import os
import sys
from pathlib import Path

from snakemake.utils import validate

from ems import paths as ems_paths
from ems.config import validate_config

# Snakemake's own validation fills the defaults; ours re-checks and names keys in errors.
validate(config, "../schemas/config.schema.yaml", set_default=True)
config.update(validate_config(config, source="the Snakemake config"))

RESULTS = ems_paths.results_root(config)
SOURCES = ems_paths.sources_root(config)
LOGS = Path("logs") / config["name"]
BENCH = Path("benchmarks") / config["name"]

# The project's interpreter: rules run in the virtualenv that runs Snakemake.
EMS = f"{sys.executable} -m ems.cli"


def settings(*sections):
    """JSON of config sections for a rule's params (a change reruns only that rule)."""
    if len(sections) == 1:
        return json.dumps(config[sections[0]], sort_keys=True)
    return json.dumps({s: config[s] for s in sections}, sort_keys=True)


def source_dir(role):
    """Extracted, verified archive folder of a source role (laser, opus_mt_testsets, ...)."""
    return ems_paths.source_dir(config, role)


def mirror_dir():
    return config["mirror"] or os.environ.get("EMS_DATA_MIRROR") or ""


TARGETS = []


def all_targets():
    return TARGETS
