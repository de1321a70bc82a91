"""Where runs are stored, and the one-off creation of the experiment and its parent run.

Creating an MLflow SQLite store (schema migrations) or an experiment from several parallel
jobs races; the ``tracking_setup`` rule does both once and writes ``parent.json``
(``run_id``, ``experiment_id``, ``tracking_uri``, ``experiment``), and every training or
evaluation job attaches a child run to it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ems.errors import ConfigError
from ems.io import write_json
from ems.redact import redact_uri

logger = logging.getLogger(__name__)

#: URI schemes of stores MLflow talks to directly (SQLAlchemy), not through a tracking server.
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql", "sqlite")


def store_dir(settings: Mapping[str, Any]) -> Path:
    """``<results_dir>/<name>/mlflow``: the default embedded store (absolute; ``settings`` validated,
    :func:`tracking_settings`)."""
    if "name" not in settings:
        raise ConfigError("tracking needs the configuration's `name` in --settings")
    from ems.paths import results_root

    return (results_root(settings) / "mlflow").resolve()


def tracking_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``tracking`` section with ``name`` and ``results_dir``, validated, the schema's defaults filled."""
    from ems.config import sections

    return sections(settings, ("tracking",), what="settings (tracking)", extra_keys=("name", "results_dir"),
                    strict=False)


def public_tracking(tracking: Mapping[str, Any]) -> dict[str, Any]:
    """The ``tracking`` section without ``uri``: what a rule may put on a command line (the URI can hold
    a password; jobs read it from ``MLFLOW_TRACKING_URI``, see :func:`export_tracking_uri`)."""
    return {k: v for k, v in tracking.items() if k != "uri"}


def export_tracking_uri(config: Mapping[str, Any]) -> None:
    """Make the configured ``tracking.uri`` the ``MLFLOW_TRACKING_URI`` of this process and of the jobs it
    starts (they inherit the environment), so no command line and no file holds it."""
    uri = (config.get("tracking") or {}).get("uri")
    if uri:
        os.environ["MLFLOW_TRACKING_URI"] = str(uri)


def check_same_store(config: Mapping[str, Any]) -> None:
    """ConfigError when ``results/<name>/tracking/parent.json`` was made in another tracking store than the
    one configured now: its runs (parent, models, peers, study) live there and new ones would not find
    them. Embedded SQLite stores are not compared (they move with the results folder)."""
    from ems.io import read_json
    from ems.paths import parent_json, results_root

    path = parent_json(results_root(config))
    if not path.is_file():
        return
    try:
        old = str(read_json(path).get("tracking_uri") or "")
    except (OSError, ValueError):
        return  # a damaged parent.json is the tracking_setup rule's to report
    new = redact_uri(resolve_tracking_uri(config))
    if not old or old == new or (sqlite_folder(old) is not None and sqlite_folder(new) is not None):
        return
    raise ConfigError(
        f"tracking.uri: {path} was made in the tracking store {old}, the configuration now says {new}; "
        f"set tracking.uri (or MLFLOW_TRACKING_URI) back, or delete {path.parent} to track the jobs that "
        "rerun in the new store (the runs so far stay in the old one)")


def resolve_tracking_uri(settings: Mapping[str, Any]) -> str:
    """Config ``tracking.uri``, else ``$MLFLOW_TRACKING_URI``, else SQLite under results/<name>/mlflow."""
    uri = (settings.get("tracking") or {}).get("uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return str(uri)
    return f"sqlite:///{store_dir(settings) / 'mlflow.db'}"


def sqlite_folder(uri: str) -> Path | None:
    """Folder of a ``sqlite:///`` store's database file; None for any other store."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]).parent if uri.startswith(prefix) else None


#: How long a tracking store may stay unreachable before the job gives up (MLflow's own retries take ~4 min).
REACH_TIMEOUT_S = 30.0
_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306, "mssql": 1433}


def check_reachable(uri: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """TrackingError within ``timeout`` seconds when the host of a server or database store takes no TCP
    connection; the message names the host and port and hides any password. SQLite and file stores pass."""
    import socket
    import time
    from urllib.parse import urlsplit

    from ems.errors import TrackingError

    parts = urlsplit(uri)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return
    port = parts.port or _DEFAULT_PORTS[scheme]
    deadline, error = time.monotonic() + timeout, None
    while True:
        try:
            with socket.create_connection((parts.hostname, port), timeout=min(5.0, timeout)):
                return
        except OSError as exc:
            error = exc
        if time.monotonic() + 1.0 > deadline:
            break
        time.sleep(1.0)
    raise TrackingError(
        f"tracking store {redact_uri(uri)} unreachable: no connection to {parts.hostname}:{port} for "
        f"{timeout:.0f} s ({error.strerror or error}); start it, or fix tracking.uri / MLFLOW_TRACKING_URI")


def open_store(settings: Mapping[str, Any]) -> tuple[str, Any]:
    """The tracking URI of ``settings`` (validated, :func:`tracking_settings`) and an MLflow client on it (a
    SQLite folder is made first; a server or database that takes no connection fails within
    :data:`REACH_TIMEOUT_S`)."""
    from ems.tracking.mlflow_tracker import _client

    uri = resolve_tracking_uri(settings)
    folder = sqlite_folder(uri)
    if folder is not None:
        writable_folder(folder, "tracking store folder")
    return uri, _client(uri)  # which checks that the store is reachable


def writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` (and parents); ConfigError naming it when that fails or it is read-only."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the {what} {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"the {what} {folder} is not writable")


def experiment_name(settings: Mapping[str, Any]) -> str:
    return (settings.get("tracking") or {}).get("experiment") or f"ems-{settings['name']}"


def artifact_location(uri: str, settings: Mapping[str, Any] | None = None) -> str | None:
    """Where a new experiment's artifacts go: ``tracking.artifact_location`` when set; beside
    the database for SQLite; ``<results_dir>/<name>/mlflow/artifacts`` for any other direct
    database URI (MLflow's own default is ``./mlruns`` of whichever folder the first job ran
    in); None for a tracking server, whose ``--artifacts-destination`` decides."""
    configured = ((settings or {}).get("tracking") or {}).get("artifact_location")
    if configured:
        return str(configured) if "://" in str(configured) else Path(configured).resolve().as_uri()
    folder = sqlite_folder(uri)
    if folder is not None:
        return (folder / "artifacts").as_uri()
    if uri.split("://", 1)[0].split("+", 1)[0] in DATABASE_SCHEMES and settings and "name" in settings:
        return (store_dir(settings) / "artifacts").as_uri()
    return None


def portable_uri(uri: str, cwd: str | os.PathLike[str] | None = None) -> str:
    """A SQLite URI inside the working folder as a relative one (``sqlite:///results/...``,
    which MLflow resolves against the job's working folder): results moved or copied together
    with their project keep working. Any other URI unchanged."""
    folder = sqlite_folder(uri)
    if folder is None:
        return uri
    path = Path(uri[len("sqlite:///") :])
    base = Path(cwd or os.getcwd()).resolve()
    if path.is_absolute() and path.resolve().is_relative_to(base):
        return f"sqlite:///{path.resolve().relative_to(base).as_posix()}"
    return uri


def get_or_create_experiment(client: Any, uri: str, name: str, settings: Mapping[str, Any] | None = None) -> str:
    """The experiment's id, creating it when absent, with its artifacts where
    :func:`artifact_location` says (not the current directory). Tolerates a concurrent creator."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifacts = artifact_location(uri, settings)
    try:
        exp_id = client.create_experiment(name, artifact_location=artifacts)
    except Exception:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id
    logger.info("created MLflow experiment %s (%s) at %s, artifacts in %s", name, exp_id, redact_uri(uri),
                artifacts or "the tracking server's artifact store")
    client.set_experiment_tag(exp_id, "mlflow.note.content", EXPERIMENT_DESCRIPTION)
    return exp_id


#: The experiment's description in the MLflow UI: where to click to compare the grid's cells.
EXPERIMENT_DESCRIPTION = (
    "EMS ablation runs (ems-workflow). One parent run per configuration (tag `ems.role=parent`) holds the "
    "headline table in its description and each task's primary metric per cell; its children are the trained "
    "models (`ems.role=train`, named `<cell>/s<seed>`) and the peers (`ems.role=peer`).\n\n"
    "To compare cells: open the shared view `ems-cells` (append `?viewStateShareKey=ems-cells` to this "
    "experiment's runs URL, written by the grid's summary step): runs **grouped by tag `ems.cell_short`** "
    "(mean of the seeds) with each task's primary metric; or filter `tags.ems.role = 'train'` and select "
    "runs → **Compare**. Every factor is a tag "
    "(`ems.factor.objective`, `ems.factor.temperature`, ...), every evaluation metric is on the model's run "
    "(`tatoeba/acc_mean`, `mining/f1`, ...), and `ablation/summary.csv` on the parent has all numbers.")


def tracking_setup(settings: Mapping[str, Any], out: str | os.PathLike[str], keep_running: bool = False) -> dict[str, str]:
    """Create (or find) the experiment and this configuration's parent run; write ``out``.

    ``keep_running`` (the workflow's ``tracking_setup`` rule): the parent stays RUNNING until the
    grid's summary step (``ems mlflow-summary``) logs the headline table and ends it; else it
    is ended at once (``ems train`` outside the workflow)."""
    from ems.errors import EmsError, TrackingError

    settings = tracking_settings(settings)  # validated once, here: the schema's defaults filled
    uri, client = open_store(settings)
    writable_folder(Path(out).resolve().parent, "folder of")
    try:
        return _setup_parent(client, uri, settings, out, keep_running)
    except EmsError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow, SQLAlchemy and HTTP errors alike: one line, no password
        from ems.redact import redact_text

        raise TrackingError(f"tracking store {redact_uri(uri)}: could not create the experiment or parent run "
                            f"({type(exc).__name__}: {redact_text(' '.join(str(exc).split())[:300])})") from None


def _setup_parent(client: Any, uri: str, settings: Mapping[str, Any], out: str | os.PathLike[str],
                  keep_running: bool) -> dict[str, str]:
    name = experiment_name(settings)
    exp_id = get_or_create_experiment(client, uri, name, settings)
    cfg_name = str(settings["name"])
    found = client.search_runs(
        [exp_id], filter_string=f"tags.`ems.role` = 'parent' AND tags.`ems.config` = '{cfg_name}'", max_results=1
    )
    if found:
        run_id = found[0].info.run_id
        logger.info("reusing parent run %s", run_id)
        if keep_running:
            client.update_run(run_id, status="RUNNING")
    else:
        from ems.tracking.naming import parent_tags

        run = client.create_run(exp_id, run_name=f"{cfg_name}", tags=parent_tags(cfg_name))
        run_id = run.info.run_id
        if not keep_running:
            client.set_terminated(run_id, status="FINISHED")
        logger.info("created parent run %s", run_id)
    info = {"run_id": run_id, "experiment_id": exp_id, "tracking_uri": redact_uri(portable_uri(uri)), "experiment": name}
    write_json(out, info)
    return info
