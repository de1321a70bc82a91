"""Fetch one upstream repository archive (mirror copy or GitHub download) and verify it.

Only the configured paths are extracted, with the archive's top folder stripped, into
``results/sources/<owner>+<repo>@<commit>/``. Every file is checked against the committed
per-file manifest ``ems/resources/manifests/<owner>+<repo>@<commit>.sha256`` (per-file
hashes hold for a trimmed mirror and a full GitHub archive alike, as files are identical).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import posixpath
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Iterable
from pathlib import Path

from ems.errors import DataError
from ems.io import atomic_dir, atomic_open, write_json
from ems.paths import SOURCE_MARKER, source_name

logger = logging.getLogger(__name__)

MANIFEST_DIR = Path(__file__).resolve().parents[1] / "resources" / "manifests"
GITHUB_ARCHIVE = "https://github.com/{repo}/archive/{commit}.tar.gz"
MARKER = SOURCE_MARKER  # the fetch rule's output (ems.paths.source_marker)


def manifest_path(repo: str, commit: str) -> Path:
    return MANIFEST_DIR / f"{source_name(repo, commit)}.sha256"


def read_manifest(path: Path) -> dict[str, str]:
    """``{relative path: sha256}`` from a ``sha256sum``-style file."""
    if not path.exists():
        raise DataError(
            f"no checksum manifest {path}; generate it once from a trusted archive with "
            "`ems make-manifest ARCHIVE` and commit it"
        )
    out = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            raise DataError(f"{path}, line {number}: expected '<sha256>  <path>'")
        out[rel] = digest
    return out


def _wanted(rel: str, paths: Iterable[str]) -> bool:
    for p in paths:
        if p.endswith("/") and rel.startswith(p):
            return True
        if rel == p.rstrip("/") or rel.startswith(p.rstrip("/") + "/"):
            return True
    return False


def _safe_rel(member: tarfile.TarInfo, archive: Path) -> str | None:
    """Archive path without its top folder; None for the top folder itself; DataError if unsafe."""
    name = member.name
    if name.startswith("/") or "\\" in name:
        raise DataError(f"{archive}: unsafe member path {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise DataError(f"{archive}: member {name!r} escapes the archive folder")
    if len(parts) < 2:
        return None
    return "/".join(parts[1:])


def iter_archive_files(archive: Path, paths: Iterable[str] | None = None):
    """Yield ``(rel, member, tar)`` for regular files and symlinks under ``paths`` (streaming)."""
    paths = list(paths) if paths is not None else None
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                rel = _safe_rel(member, archive)
                if rel is None or not (member.isfile() or member.issym()):
                    continue
                if paths is not None and not _wanted(rel, paths):
                    continue
                yield rel, member, tar
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive}: not a readable .tar.gz archive ({exc}); delete it and fetch again") from exc


def _hash_member(tar: tarfile.TarFile, member: tarfile.TarInfo, out: Path | None, archive: Path) -> str:
    """sha256 of one member, copied to ``out`` on the way; a truncated or corrupt archive is a DataError.

    The reads happen here, in the caller of :func:`iter_archive_files`, so that generator's
    ``try`` does not cover them.
    """
    h = hashlib.sha256()
    with (open(out, "wb") if out is not None else open(os.devnull, "wb")) as dst:
        try:
            src = tar.extractfile(member)
            if src is None:
                raise DataError(f"{archive}: member {member.name!r} has no data")
            with src:
                while block := src.read(1 << 20):
                    h.update(block)
                    dst.write(block)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DataError(f"{archive}: truncated or corrupt archive while reading {member.name} "
                            f"({exc or type(exc).__name__}); delete it and fetch again") from exc
    return h.hexdigest()


def _link_target(rel: str, member: tarfile.TarInfo) -> str:
    target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), member.linkname))
    if member.linkname.startswith("/") or target.startswith("../") or target == "..":
        raise DataError(f"symbolic link {rel} -> {member.linkname} points outside the archive")
    return target


def make_manifest(archive: Path, out: Path) -> int:
    """Write the per-file sha256 manifest of every file in ``archive`` (links hashed as their target)."""
    digests: dict[str, str] = {}
    links: dict[str, str] = {}
    for rel, member, tar in iter_archive_files(archive):
        if member.issym():
            links[rel] = _link_target(rel, member)
        else:
            digests[rel] = _hash_member(tar, member, None, archive)
    for rel, target in links.items():
        if target not in digests:
            raise DataError(f"{archive}: link {rel} -> {target} has no target in the archive")
        digests[rel] = digests[target]
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out) as fh:
        fh.write(f"# per-file sha256 of {archive.name} (top folder stripped)\n")
        for rel in sorted(digests):
            fh.write(f"{digests[rel]}  {rel}\n")
    return len(digests)


def locate_archive(repo: str, commit: str, mirror: str | os.PathLike[str] | None, workdir: Path) -> tuple[Path, str]:
    """The archive to extract and where it came from (mirror file, or a download into ``workdir``)."""
    name = source_name(repo, commit) + ".tar.gz"
    if mirror:
        path = Path(mirror) / name
        if not path.is_file():
            raise DataError(
                f"mirror file {path} not found; put the archive there (from "
                f"{GITHUB_ARCHIVE.format(repo=repo, commit=commit)} or the data mirror), point "
                "EMS_DATA_MIRROR / config `mirror` at the folder holding it, or unset both to download"
            )
        return path, str(path)
    url = GITHUB_ARCHIVE.format(repo=repo, commit=commit)
    dest = workdir / name
    logger.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as fh:
            shutil.copyfileobj(resp, fh, 1 << 20)
    except OSError as exc:
        raise DataError(
            f"could not download {url} ({exc}); set EMS_DATA_MIRROR (or config `mirror`) to a "
            "folder holding the archive to work offline"
        ) from exc
    return dest, url


def fetch_source(repo: str, commit: str, paths: list[str], out_dir: str | os.PathLike[str],
                 mirror: str | os.PathLike[str] | None = None, manifest: Path | None = None) -> dict:
    """Extract ``paths`` of the archive into ``out_dir`` (atomically) and verify every file.

    Returns the marker written to ``out_dir/.verified.json``.
    """
    out_dir = Path(out_dir)
    manifest = manifest or manifest_path(repo, commit)
    expected = read_manifest(manifest)
    with tempfile.TemporaryDirectory(prefix=".download.", dir=out_dir.parent if out_dir.parent.exists() else None) as work:
        archive, origin = locate_archive(repo, commit, mirror, Path(work))
        with atomic_dir(out_dir) as tmp:
            seen: dict[str, str] = {}
            links: dict[str, str] = {}
            skipped = []
            for rel, member, tar in iter_archive_files(archive, paths):
                if rel not in expected:
                    skipped.append(rel)  # not in the manifest: unverifiable, so never used
                    continue
                if member.issym():
                    links[rel] = _link_target(rel, member)
                    continue
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                seen[rel] = _hash_member(tar, member, target, archive)
            for rel, target in links.items():
                if target not in seen:
                    raise DataError(f"{archive}: link {rel} -> {target} has no extracted target; add its folder to `paths`")
                link = tmp / rel
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(posixpath.relpath(target, posixpath.dirname(rel)), link)
                seen[rel] = seen[target]
            if skipped:
                logger.warning("%s: %d file(s) not in the manifest were left out, e.g. %s",
                               archive.name, len(skipped), skipped[0])
            _verify(seen, expected, paths, archive, manifest)
            with atomic_open(tmp / "MANIFEST.sha256") as fh:
                fh.writelines(f"{seen[rel]}  {rel}\n" for rel in sorted(seen))
            marker = {
                "repo": repo, "commit": commit, "paths": list(paths), "origin": origin,
                "files": len(seen), "manifest": manifest.name,
            }
            write_json(tmp / MARKER, marker)
    logger.info("%s: %d files verified into %s", source_name(repo, commit), len(seen), out_dir)
    return marker


def _verify(seen: dict[str, str], expected: dict[str, str], paths: list[str], archive: Path, manifest: Path) -> None:
    fix = f"delete {archive} and fetch it again (the mirror copy or the download is corrupt or not that commit)"
    for rel, digest in sorted(seen.items()):
        if expected[rel] != digest:
            raise DataError(
                f"{archive}: checksum mismatch for {rel} (sha256 {digest[:16]}…, manifest {manifest.name} "
                f"says {expected[rel][:16]}…); {fix}"
            )
    missing = [rel for rel in expected if _wanted(rel, paths) and rel not in seen]
    if missing:
        raise DataError(
            f"{archive}: {len(missing)} file(s) of the manifest are missing, e.g. {missing[0]}; {fix}"
        )
    if not seen:
        raise DataError(f"{archive}: no files under {paths}; check the source's `paths` in the config")
