"""Checkpoints are verified before loading: a flipped, truncated or empty ``last.pt`` is moved
aside with a warning naming it, and training goes on from ``previous.pt`` (or from scratch)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
import torch
from _train_toy import TINY_SETTINGS, make_toy_data, train_toy

from ems.train.checkpoint import LAST, PREVIOUS, load_checkpoint, sidecar

torch.set_num_threads(1)
SETTINGS = copy.deepcopy(TINY_SETTINGS)
SETTINGS["train"].update(max_steps=4, eval_every=2, checkpoint_every=2)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_toy_data(tmp_path_factory.mktemp("toy"), n_train=128, n_valid=32)


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 256] = bytes(b ^ 0xFF for b in data[mid : mid + 256])
    p.write_bytes(bytes(data))


DAMAGE = {"flipped": _flip, "truncated": lambda p: p.write_bytes(p.read_bytes()[:1000]),
          "zero_bytes": lambda p: p.write_bytes(b"")}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_last_is_moved_aside_and_previous_resumed(toy: dict, tmp_path: Path, damage: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "m" / "seed1"
    train_toy(SETTINGS, toy, out, keep_checkpoints=True)
    ckpt = out / "checkpoints"
    assert load_checkpoint(ckpt / PREVIOUS)["run"]["step"] == 2 and load_checkpoint(ckpt / LAST)["run"]["step"] == 4
    reference = load_checkpoint(ckpt / LAST)["model"]
    DAMAGE[damage](ckpt / LAST)
    with caplog.at_level(logging.WARNING, logger="ems.train.checkpoint"):
        summary = train_toy(SETTINGS, toy, out, keep_checkpoints=True)
    assert any(str(ckpt / LAST) in r.getMessage() and "moved aside" in r.getMessage() for r in caplog.records)
    assert len(list(ckpt.glob("last.pt.corrupt-*[0-9]"))) == 1
    assert summary["steps"] == 4
    again = load_checkpoint(ckpt / LAST)["model"]  # steps 3-4 retrained from step 2: the same weights
    assert all(torch.equal(reference[k], again[k]) for k in reference)


def test_both_damaged_restarts_from_scratch(toy: dict, tmp_path: Path) -> None:
    out = tmp_path / "m" / "seed1"
    train_toy(SETTINGS, toy, out, keep_checkpoints=True)
    ckpt = out / "checkpoints"
    _flip(ckpt / LAST)
    sidecar(ckpt / PREVIOUS).unlink()  # no checksum: not trusted either
    summary = train_toy(SETTINGS, toy, out, keep_checkpoints=True)
    assert summary["steps"] == 4 and len(list(ckpt.glob("*.corrupt-*[0-9]"))) == 2
    fresh = load_checkpoint(ckpt / LAST)["run"]["history"]
    assert [h["step"] for h in fresh if "dev/retrieval_acc" in h] == [2, 4]
