"""Fetch one file of a training corpus: mirror first, then download, verified against a lock file.

OPUS and Tatoeba-Challenge publish no checksums. Each corpus has a lock file
(``sha256sum`` format, ``<sha256>  <file name>``) that the user commits: every fetch is
checked against it; with ``record`` the first download of a file not yet in the lock adds
its line (under an exclusive ``flock``, so parallel fetch jobs append safely). A download
streams into ``<file>.part`` while hashing and is renamed only when verified, so a killed
or failed fetch leaves nothing that looks complete. The mirror follows the upstream URL
layout: ``<mirror>/<host>/<path>`` (``object.pouta.csc.fi/OPUS-Tatoeba/v2023-04-12/moses/de-en.txt.zip``).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ems.errors import DataError

logger = logging.getLogger(__name__)

BLOCK = 1 << 20


def mirror_path(mirror: str | os.PathLike[str], url: str) -> Path:
    """Where a mirror holds the file of ``url``: ``<mirror>/<host>/<path>``."""
    parts = urlsplit(url)
    return Path(mirror) / parts.netloc / parts.path.lstrip("/")


def read_lock(path: Path) -> dict[str, str]:
    """``{file name: sha256}`` of a lock file (an absent file: empty; same format as the archive manifests)."""
    from ems.data.fetch import read_manifest

    return read_manifest(path) if path.exists() else {}


def record(lock: Path, name: str, digest: str) -> None:
    """Add ``name``'s checksum to ``lock`` (exclusive lock; a name already there must agree)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        known = read_lock(lock)
        if name in known:
            if known[name] != digest:
                raise DataError(f"{lock}: {name} is recorded with sha256 {known[name][:16]}…, the download has {digest[:16]}…")
            return
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            fh.write("# sha256 of the corpus files, recorded at their first download: commit this file\n")
        fh.write(f"{digest}  {name}\n")
        fh.flush()
        os.fsync(fh.fileno())
    logger.info("recorded sha256 of %s in %s: commit it", name, lock)


def _copy_hashing(src, dst: Path, size: int | None, what: str) -> str:
    h = hashlib.sha256()
    done, last, start = 0, time.monotonic(), time.monotonic()
    with open(dst, "wb") as out:
        while block := src.read(BLOCK):
            h.update(block)
            out.write(block)
            done += len(block)
            if time.monotonic() - last > 10:
                last = time.monotonic()
                rate = done / max(last - start, 1e-9)
                eta = f", ETA {(size - done) / rate:.0f} s" if size else ""
                logger.info("%s: %.1f MB at %.1f MB/s%s", what, done / 1e6, rate / 1e6, eta)
    return h.hexdigest()


def fetch_file(url: str, dest: str | os.PathLike[str], lock: str | os.PathLike[str],
               mirror: str | os.PathLike[str] | None = None, record_new: bool = False) -> dict:
    """Make ``dest`` a verified copy of ``url``'s file (or a link to the verified mirror file).

    Returns ``{"origin", "sha256", "bytes"}``. Errors (file not in the lock, checksum
    mismatch, unreachable URL) are DataErrors naming the file; nothing is left at ``dest``.
    """
    dest, lock = Path(dest), Path(lock)
    name = dest.name
    expected = read_lock(lock).get(name)
    if expected is None and not record_new:
        raise DataError(f"{lock}: no checksum for {name}; fetch it once with record_checksums: true "
                        "(or `ems fetch-corpus --record`) and commit the lock file")
    out = fetch_verified(url, dest, expected, mirror, f"{lock} says")
    if expected is None:
        record(lock, name, out["sha256"])
    return out


def fetch_verified(url: str, dest: str | os.PathLike[str], expected: str | None,
                   mirror: str | os.PathLike[str] | None = None, source: str = "expected") -> dict:
    """Make ``dest`` a copy of ``url``'s file (or a link to the mirror's ``<host>/<path>``) whose sha256 is
    ``expected`` (any when None); returns ``{"origin", "sha256", "bytes"}``; nothing is left on error."""
    dest = Path(dest)
    name = dest.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    local = mirror_path(mirror, url) if mirror else None
    try:
        if local is not None and local.is_file():
            origin = str(local)
            with open(local, "rb") as src:
                digest = _copy_hashing(src, Path(os.devnull), local.stat().st_size, f"verify {local}")
        else:
            origin = url
            logger.info("downloading %s", url)
            try:
                with urllib.request.urlopen(url, timeout=60) as resp:
                    size = int(resp.headers.get("Content-Length") or 0) or None
                    digest = _copy_hashing(resp, part, size, f"download {name}")
                    if size is not None and part.stat().st_size != size:
                        raise DataError(f"{url}: download cut short ({part.stat().st_size} of {size} bytes); fetch again")
            except (urllib.error.URLError, OSError) as exc:
                hint = f" and no mirror file {local}" if local is not None else ""
                raise DataError(f"could not download {url} ({getattr(exc, 'reason', exc)}){hint}; "
                                "set EMS_DATA_MIRROR to a folder holding <host>/<path> to work offline") from None
        if expected is not None and digest != expected:
            raise DataError(f"{origin}: checksum mismatch for {name} (sha256 {digest[:16]}…, {source} "
                            f"{expected[:16]}…); delete it and fetch again, or fix the checksum if the file changed upstream")
        if local is not None and origin == str(local):
            if dest.is_symlink() or dest.exists():
                dest.unlink()
            os.symlink(local.resolve(), dest)
        else:
            os.replace(part, dest)
    finally:
        if part.exists():
            part.unlink()
    logger.info("%s verified (sha256 %s…) from %s", name, digest[:16], origin)
    return {"origin": origin, "sha256": digest, "bytes": dest.stat().st_size}
