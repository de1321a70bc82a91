"""A copied or moved embedded MLflow store finds its artifacts in its new place.

MLflow writes artifact locations into its database as absolute ``file://`` URIs
(``experiments.artifact_location``, ``runs.artifact_uri``, ``logged_models.artifact_location``,
``model_versions.source``/``storage_location``), so a copied ``results/<name>/mlflow/`` would
read runs and models from the old place, or fail once that is gone. :func:`relocate_store`
rewrites the old artifact root to ``<store folder>/artifacts`` wherever it occurs. The workflow
does it whenever Snakemake starts (``common.smk``), and ``ems relocate-store`` does it by hand
before opening the MLflow UI on a copy. A tracking server's store is not touched (its
artifacts are served, not addressed by path).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

logger = logging.getLogger(__name__)

#: (table, column) holding artifact URIs, as of MLflow 3.x; absent tables are skipped.
COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"), ("logged_models", "artifact_location"),
           ("model_versions", "source"), ("model_versions", "storage_location"))
ARTIFACTS = "artifacts"


def _old_roots(db: sqlite3.Connection, store: Path) -> set[str]:
    """The artifact roots of the store's experiments that name another ``<...>/mlflow/artifacts`` (the same
    layout somewhere else: where this store was copied from). A configured ``tracking.artifact_location``
    elsewhere is left alone: it does not end in the store folder's name, or no artifacts came with the copy."""
    new_root = (store / ARTIFACTS).as_uri()
    if not (store / ARTIFACTS).is_dir():
        return set()
    roots = set()
    for (location,) in db.execute("SELECT artifact_location FROM experiments"):
        if not isinstance(location, str) or not location.startswith("file://"):
            continue
        location = location.rstrip("/")
        if location != new_root and location.endswith(f"/{store.name}/{ARTIFACTS}"):
            roots.add(location)
    return roots


def relocate_store(db_path: str | os.PathLike[str]) -> int:
    """Point every artifact URI of the SQLite store ``db_path`` at ``<its folder>/artifacts``; the number of
    values changed (0 when the store is where its artifacts are said to be)."""
    db_path = Path(db_path).resolve()
    if not db_path.is_file():
        return 0
    new_root = (db_path.parent / ARTIFACTS).as_uri()
    changed = 0
    with sqlite3.connect(db_path, timeout=60) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for old in _old_roots(db, db_path.parent):
            for table, column in COLUMNS:
                if table not in tables:
                    continue
                cur = db.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                    f"WHERE {column} = ? OR {column} LIKE ? ESCAPE '\\'",
                    (new_root, len(old) + 1, old, _like_prefix(old + "/")))
                changed += cur.rowcount
            logger.info("MLflow store %s moved: artifact root %s -> %s", db_path, old, new_root)
    return changed


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def relocate_results(results: str | os.PathLike[str]) -> int:
    """:func:`relocate_store` on ``<results>/mlflow/mlflow.db`` (the embedded store of a configuration)."""
    return relocate_store(Path(results) / "mlflow" / "mlflow.db")
