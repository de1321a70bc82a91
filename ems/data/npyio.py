"""``.npy`` files written and read in chunks with plain file I/O (no memory map).

A memory map counts every page it touches in the process's resident memory, so a job that
maps a 10 GB array shows 10 GB of RSS (reclaimable, but charged to a cluster job's memory
limit). The data jobs read and write their large arrays through these helpers instead:
memory stays one chunk, whatever the array's size.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHUNK_ROWS = 1 << 20


def header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, offset of the data)`` of an ``.npy`` file."""
    with open(path, "rb") as fh:
        major, _ = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
        if fortran:
            raise ValueError(f"{path}: Fortran-ordered arrays are not supported")
        return shape, dtype, fh.tell()


def iter_rows(path: str | os.PathLike[str], chunk: int = CHUNK_ROWS, start: int = 0) -> Iterator[np.ndarray]:
    """Consecutive row blocks of an ``.npy`` array (the first axis), from row ``start``."""
    shape, dtype, offset = header(path)
    row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    with open(path, "rb") as fh:
        fh.seek(offset + start * row * dtype.itemsize)
        for first in range(start, shape[0], chunk):
            n = min(chunk, shape[0] - first)
            yield np.fromfile(fh, dtype=dtype, count=n * row).reshape((n, *shape[1:]))


def length(path: str | os.PathLike[str]) -> int:
    return header(path)[0][0]


class NpyWriter:
    """Write a 1-D or row-wise 2-D ``.npy`` array in chunks whose total length is known up front."""

    def __init__(self, path: str | os.PathLike[str], dtype, shape: tuple[int, ...]) -> None:
        self.dtype = np.dtype(dtype)
        self.shape = shape
        self.written = 0
        self.fh = open(path, "wb")  # noqa: SIM115 (closed by close/__exit__)
        np.lib.format.write_array_header_1_0(self.fh, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                       "fortran_order": False, "shape": shape})

    def write(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        self.fh.write(block.tobytes())
        self.written += len(block)

    def close(self) -> None:
        self.fh.close()
        if self.written != self.shape[0]:
            raise ValueError(f"{self.fh.name}: {self.written} rows written, header says {self.shape[0]}")

    def __enter__(self) -> NpyWriter:  # noqa: PYI034 (Self needs Python 3.11)
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self.fh.close()


def raw_to_npy(raw: str | os.PathLike[str], dtype, out: str | os.PathLike[str], columns: int = 1) -> int:
    """Turn a raw array file (native byte order, C order) into ``.npy`` by a streaming copy; return rows."""
    raw = Path(raw)
    rows = raw.stat().st_size // (np.dtype(dtype).itemsize * columns)
    shape = (rows,) if columns == 1 else (rows, columns)
    with open(out, "wb") as dst, open(raw, "rb") as src:
        np.lib.format.write_array_header_1_0(dst, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                   "fortran_order": False, "shape": shape})
        shutil.copyfileobj(src, dst, 1 << 22)
    raw.unlink()
    return rows
