"""Test helper of the evaluation tests: extract a few files of a mirror archive into a folder.

The mirror is located via EMS_DATA_MIRROR (default <repo>/../shared/data); tests that need
it skip when it is absent.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARCHIVES = {
    "laser": "facebookresearch+LASER@74bc6ae7ffb7cba670fe0f428d0ede9f666fb821.tar.gz",
    "opus_mt_testsets": "Helsinki-NLP+OPUS-MT-testsets@ac0f19c0be3cb4e0d9450fcb2d7a9847c4bdd180.tar.gz",
    "sib200": "dadelani+sib-200@e7a172159963fd28c65f1ea53a0cea931bd08719.tar.gz",
    "umsab": "cardiffnlp+xlm-t@874214d64d96599eb869a033c22ec2cc57d19256.tar.gz",
}


def mirror() -> Path:
    return Path(os.environ.get("EMS_DATA_MIRROR", REPO.parent / "shared" / "data"))


def extract(role: str, prefixes: Iterable[str], out: Path) -> Path:
    """Extract archive members under any of ``prefixes`` (repository paths) into ``out``; top folder stripped."""
    archive = mirror() / ARCHIVES[role]
    if not archive.exists():
        pytest.skip(f"data mirror archive {archive} not present")
    prefixes = tuple(prefixes)
    with tarfile.open(archive) as tar:
        for member in tar:
            rel = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not rel or not rel.startswith(prefixes) or not (member.isfile() or member.issym()):
                continue
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if member.issym():
                continue
            with tar.extractfile(member) as src:  # type: ignore[union-attr]
                target.write_bytes(src.read())
    return out
