"""Strict, streaming line readers of parallel text (one sentence per line, UTF-8) with progress.

Each side is read as bytes split on ``\\n`` only and decoded strictly, so a bad byte is a
:class:`~ems.errors.DataError` naming the file and line. :class:`Progress` counts the bytes
read of the inputs' known total, which gives each job its pairs/s and ETA.
"""

from __future__ import annotations

import gzip
import io
import itertools
import zlib
from collections.abc import Iterator
from typing import IO
from zipfile import BadZipFile

from ems.errors import DataError

#: Errors of a truncated or corrupt compressed stream.
STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, BadZipFile, OSError)


class Progress:
    """Bytes read so far of a known total (0 when unknown): the fraction behind an ETA."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def fraction(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total else None


class CountingReader(io.RawIOBase):
    """A raw binary stream that adds every byte read from ``raw`` to a :class:`Progress`.

    Wrap it in ``io.BufferedReader`` (plain files) or ``gzip.GzipFile`` (compressed ones).
    """

    def __init__(self, raw: IO[bytes], progress: Progress) -> None:
        super().__init__()
        self.raw = raw
        self.progress = progress

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.progress.done += n
        return n

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


BLOCK = 1 << 20


def decoded_lines(stream: IO[bytes], where: str) -> Iterator[str]:
    """Lines of a binary stream without their line end, strictly UTF-8 (BOM of line 1 dropped).

    Read and decoded a block at a time (C speed); a bad byte is located to its line afterwards.
    """
    number = 0  # lines yielded so far
    rest = b""
    first = True
    try:
        while True:
            block = stream.read(BLOCK)
            data = rest + block
            if not block:
                if data:
                    yield _decode(data, number, where).rstrip("\r")
                    number += 1
                return
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1:]
            data = data[:cut]
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            lines = _decode(data, number, where).split("\n")
            if b"\r" in data:
                lines = [line.rstrip("\r") for line in lines]
            number += len(lines)
            yield from lines
    except STREAM_ERRORS as exc:
        raise DataError(f"{where}: truncated or corrupt after line {number} ({exc or type(exc).__name__}); "
                        "delete the file and fetch it again") from None


def _decode(data: bytes, before: int, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = before + data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
        raise DataError(f"{where}, line {line}: not valid UTF-8 ({exc.reason} at byte {column})") from None


def parallel(xx: Iterator[str], eng: Iterator[str], xx_where: str, eng_where: str) -> Iterator[tuple[str, str]]:
    """Aligned ``(xx, eng)`` pairs; sides of unequal length are a DataError naming both."""
    n = 0
    for n, (a, b) in enumerate(itertools.zip_longest(xx, eng), start=1):
        if a is None or b is None:
            longer, shorter = (eng_where, xx_where) if a is None else (xx_where, eng_where)
            raise DataError(f"sides of unequal length: {shorter} ends after {n - 1} lines, {longer} goes on")
        yield a, b
