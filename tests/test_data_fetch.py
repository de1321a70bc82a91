"""Fetch: extraction of configured paths, checksum verification, and its error cases."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from ems.data.fetch import MARKER, fetch_source, make_manifest, manifest_path, read_manifest
from ems.errors import DataError
from ems.io import read_json

REPO, COMMIT = "facebookresearch/LASER", "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821"
FEW = ["data/tatoeba/v1/tatoeba.deu-eng.deu", "data/tatoeba/v1/tatoeba.deu-eng.eng"]


def test_fetch_extracts_and_verifies(mirror, tmp_path):
    out = tmp_path / "laser"
    marker = fetch_source(REPO, COMMIT, FEW, out, mirror=mirror)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(FEW + [MARKER, "MANIFEST.sha256"])
    expected = read_manifest(manifest_path(REPO, COMMIT))
    assert read_manifest(out / "MANIFEST.sha256") == {rel: expected[rel] for rel in FEW}
    assert read_json(out / MARKER) == marker and marker["files"] == 2
    assert len((out / FEW[0]).read_text(encoding="utf-8").splitlines()) == 1000


def test_flores_symlink_kept_inside(sources):
    link = sources["opus_mt_testsets"] / "testsets/flores200_dataset/devtest/msa.devtest"
    assert link.is_symlink()
    assert link.resolve() == (sources["opus_mt_testsets"] / "testsets/flores200_dataset/devtest/zsm.devtest").resolve()


def test_missing_mirror_file(tmp_path):
    out = tmp_path / "laser"
    with pytest.raises(DataError, match=r"mirror file .*facebookresearch\+LASER@74bc6ae.*\.tar\.gz not found.*EMS_DATA_MIRROR"):
        fetch_source(REPO, COMMIT, FEW, out, mirror=tmp_path / "empty")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_checksum_mismatch_names_file_and_leaves_nothing(mirror, tmp_path):
    manifest = read_manifest(manifest_path(REPO, COMMIT))
    bad = tmp_path / "bad.sha256"
    bad.write_text("".join(f"{('0' * 64) if rel == FEW[1] else digest}  {rel}\n" for rel, digest in manifest.items()))
    out = tmp_path / "out" / "laser"
    with pytest.raises(DataError, match=r"checksum mismatch for data/tatoeba/v1/tatoeba\.deu-eng\.eng.*fetch it again"):
        fetch_source(REPO, COMMIT, FEW, out, mirror=mirror, manifest=bad)
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_manifest_file_missing_from_archive(mirror, tmp_path):
    manifest = manifest_path(REPO, COMMIT).read_text()
    extra = tmp_path / "extra.sha256"
    extra.write_text(manifest + f"{'1' * 64}  data/tatoeba/v1/tatoeba.deu-eng.extra\n")
    with pytest.raises(DataError, match=r"missing, e\.g\. data/tatoeba/v1/tatoeba\.deu-eng\.extra"):
        fetch_source(REPO, COMMIT, ["data/tatoeba/v1/"], tmp_path / "out", mirror=mirror, manifest=extra)
    assert not (tmp_path / "out").exists()


def _toy_archive(path: Path, members: dict[str, bytes | str]) -> Path:
    """A .tar.gz whose str values are symlink targets and bytes values file contents."""
    with tarfile.open(path, "w:gz") as tar:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(value, str):
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return path


def test_toy_archive_roundtrip_and_unsafe_members(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    name = "o+r@" + "a" * 40
    archive = _toy_archive(mirror / f"{name}.tar.gz", {
        f"r-{'a' * 40}/d/x.txt": b"x\n", f"r-{'a' * 40}/d/y.txt": "x.txt",
    })
    manifest = tmp_path / "m.sha256"
    assert make_manifest(archive, manifest) == 2
    fetch_source("o/r", "a" * 40, ["d/"], tmp_path / "out", mirror=mirror, manifest=manifest)
    assert (tmp_path / "out/d/y.txt").is_symlink() and (tmp_path / "out/d/y.txt").read_text() == "x\n"

    _toy_archive(archive, {f"r-{'a' * 40}/d/../../evil.txt": b"boom"})
    with pytest.raises(DataError, match="escapes the archive"):
        fetch_source("o/r", "a" * 40, ["d/", "evil.txt"], tmp_path / "out2", mirror=mirror, manifest=manifest)
    _toy_archive(archive, {f"r-{'a' * 40}/d/x.txt": b"x\n", f"r-{'a' * 40}/d/y.txt": "../../etc/passwd"})
    with pytest.raises(DataError, match="points outside the archive"):
        fetch_source("o/r", "a" * 40, ["d/"], tmp_path / "out3", mirror=mirror, manifest=manifest)
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_committed_manifests_cover_the_configured_sources():
    from ems.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    for src in cfg["sources"].values():
        entries = read_manifest(manifest_path(src["repo"], src["commit"]))
        assert any(rel.startswith(tuple(src["paths"])) for rel in entries), src["repo"]
