"""Shared fixtures: the data mirror and small verified slices of its archives.

The mirror is ``$EMS_DATA_MIRROR`` or ``<repo>/../shared/data``; tests that need it skip
(with the reason) when it is absent. Slices are extracted once per session through the real
fetch step (so they are checksum-verified like production data).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pg_server import postgres_db, postgres_db2, postgres_url  # noqa: F401  (PostgreSQL fixtures, tests/pg_server.py)

REPO = Path(__file__).resolve().parents[1]

SOURCES = {
    "laser": ("facebookresearch/LASER", "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821"),
    "opus_mt_testsets": ("Helsinki-NLP/OPUS-MT-testsets", "ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180"),
    "sib200": ("dadelani/sib-200", "e7a172159963fd28c65f1ea53a0cea931bd08719"),
    "umsab": ("cardiffnlp/xlm-t", "874214d64d96599eb869a033c22ec2cc57d19256"),
}
#: The authors' repository (tests/official_reference.py runs its code).
OFFICIAL = ("Mao-KU/EMS", "2d4227289127876202ba089ce6c6d513f1e097a7")

#: OPUS-MT-testsets folders of the test slice: languages with known Tatoeba overlap, the
#: mixed-label zho/hbs folders, the mining languages' newstests, and FLORES-200 devtest.
OPUS_SLICE = [
    f"testsets/{d}/" for d in (
        "ces-eng", "eng-ces", "eng-kab", "deu-eng", "eng-deu", "fra-eng", "eng-fra", "rus-eng",
        "eng-rus", "zho-eng", "eng-zho", "eng-hbs", "eng-eng", "flores200_dataset",
    )
]
SLICE_PATHS = {
    "laser": ["data/tatoeba/v1/"],
    "opus_mt_testsets": OPUS_SLICE,
    "sib200": ["data/annotated/"],
    "umsab": ["data/sentiment/"],
}


def mirror_path() -> Path:
    return Path(os.environ.get("EMS_DATA_MIRROR") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The data mirror folder (skips the test when it is absent)."""
    path = mirror_path()
    if not path.is_dir() or not any(path.glob("*.tar.gz")):
        pytest.skip(f"data mirror not found at {path} (set EMS_DATA_MIRROR to the folder of the archives)")
    return path


@pytest.fixture(scope="session")
def sources(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Verified slices of the four source archives: ``{role: extracted folder}``."""
    from ems.data.fetch import fetch_source, source_name

    root = tmp_path_factory.mktemp("sources")
    out = {}
    for role, (repo, commit) in SOURCES.items():
        folder = root / source_name(repo, commit)
        fetch_source(repo, commit, SLICE_PATHS[role], folder, mirror=mirror)
        out[role] = folder
    return out


@pytest.fixture(scope="session")
def official_repo(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Mao-KU/EMS code and tokenizer, fetched from the mirror and verified like every source."""
    from ems.data.fetch import fetch_source, source_name

    folder = tmp_path_factory.mktemp("official") / source_name(*OFFICIAL)
    fetch_source(*OFFICIAL, ["inference/", "modeling/", "preprocessing/", "utils/", "config.py", "LICENSE"], folder,
                 mirror=mirror)
    return folder


def official_reference(official_repo: Path, command: str, tmp: Path, **kwargs: object):
    """Run tests/official_reference.py (the authors' code) in its own process; fail with its stderr."""
    import subprocess
    import sys

    argv = [sys.executable, str(Path(__file__).with_name("official_reference.py")), command, "--root",
            str(official_repo)]
    for key, value in kwargs.items():
        argv += [f"--{key}", str(value)]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
