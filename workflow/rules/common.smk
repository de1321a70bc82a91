# Shared helpers for every stage: config validation, paths, the ems command.
import json  # tune_common.smk uses it too
import os
import shlex
import sys
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake_interface_executor_plugins.settings import DeploymentMethod

from ems import paths as ems_paths
from ems.config import read_yaml, replace_free_maps, settings_json, validate_config
from ems.tracking.setup import check_same_store, export_tracking_uri, public_tracking
from ems.errors import ConfigError


def _config_layers():
    """(name, content) of the config files and --config, in the order Snakemake merged them.

    The only place that reads Snakemake's configuration settings (workflow.config_settings).
    """
    cli_files = [Path(f).absolute() for f in workflow.config_settings.configfiles]
    own = [f for f in workflow.configfiles if Path(f).absolute() not in cli_files]
    for f in [*own, *cli_files]:
        read_yaml(f)  # a key given twice: one line naming it and both lines (Snakemake keeps the last silently)
    layers = [(str(f), load_configfile(f)) for f in [*own, *cli_files]]
    return [*layers, ("--config", dict(workflow.config_settings.config))]


# Snakemake deep-merges config files; free-form maps (tune.space, mining.languages) are
# replaced by the last file that sets them instead (logged). Then one validation
# (ems.config: defaults from the schema, errors as "key.path: reason", language codes).
try:
    replace_free_maps(config, _config_layers())
    config.update(validate_config(config, source="(config files merged by Snakemake)"))
    # tracking.uri may hold a password: it never goes into a rule's params (.snakemake/metadata) or a
    # command line. The jobs inherit it as MLFLOW_TRACKING_URI (ems.tracking.setup reads it there) and
    # files hold it redacted (ems.redact.connectable finds the password again in that variable).
    export_tracking_uri(config)
    check_same_store(config)  # a results folder tracked in one store is not silently continued in another
except ConfigError as _exc:  # one line and exit 2, as every ems command, before any job
    print(f"error: {_exc}", file=sys.stderr)
    sys.exit(2)

RESULTS = ems_paths.results_root(config)
# A copied or moved results folder: its embedded MLflow store points at its own artifacts again
# (ems.tracking.relocate; a no-op otherwise, and for a tracking server).
if not os.environ.get("MLFLOW_TRACKING_URI"):
    from ems.tracking.relocate import relocate_results

    relocate_results(RESULTS)
SOURCES = ems_paths.sources_root(config)
LOGS = Path("logs") / config["name"]
BENCH = Path("benchmarks") / config["name"]

# With --software-deployment-method conda a job runs in envs/ems.yaml's environment, whose
# post-deploy script installs this checkout (EMS_ROOT): use that interpreter; else the one
# that runs Snakemake (the project's virtualenv).
_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
os.environ.setdefault("EMS_ROOT", str(Path(workflow.basedir).resolve()))
EMS = "python -m ems.cli" if _CONDA else f"{shlex.quote(sys.executable)} -m ems.cli"


def job_threads(share=1):
    """Threads of a CPU-heavy job: launch.threads, else every core Snakemake was given, split `share` ways.

    Locally that is --cores; inside a cluster job, the job's allocation. On a cluster login node
    no --cores is set: 1 here, and profiles/slurm's set-threads says what each job asks for.
    """
    given = config["launch"]["threads"] or workflow.resource_settings.cores or 1
    return max(1, int(given) // share)


def settings(*sections):
    """JSON of config sections for a rule's params (a change reruns only that rule); the tracking
    section without its URI (the jobs read that from their environment)."""
    def value(s):
        return public_tracking(config[s]) if s == "tracking" else config[s]

    return settings_json(value(sections[0]) if len(sections) == 1 else {s: value(s) for s in sections})


def source_dir(role):
    """Extracted, verified archive folder of a source role (laser, opus_mt_testsets, ...)."""
    return ems_paths.source_dir(config, role)


def mirror_dir():
    return config["mirror"] or os.environ.get("EMS_DATA_MIRROR") or ""


TARGETS = []


def all_targets():
    return TARGETS
