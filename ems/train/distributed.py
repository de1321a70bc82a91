"""DDP plumbing for ``torchrun``: process group from the environment, rank helpers.

Without ``WORLD_SIZE`` > 1 in the environment everything degrades to one process.
Backend: NCCL on CUDA, gloo on CPU (the tests run 2 gloo processes).
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_world_size() -> int:
    """Number of ranks torchrun started (``WORLD_SIZE``); 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def env_rank() -> int:
    """This process's global rank as torchrun set it (``RANK``); 0 outside torchrun."""
    return int(os.environ.get("RANK", "0"))


def init_distributed(use_cuda: bool) -> DistInfo:
    world = env_world_size()
    if world <= 1:
        return DistInfo()
    rank = env_rank()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    here = False
    if use_cuda:  # before any NCCL work: each rank owns its local GPU (else all ranks share cuda:0)
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
        here = True
    logger.info("DDP rank %d of %d (local %d)", rank, world, local)
    return DistInfo(rank, world, local, here)


def broadcast_int(value: int, info: DistInfo) -> int:
    """Rank 0's ``value`` on every rank."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.long)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.broadcast(t, 0)
    return int(t.item())


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


# seconds a rank waits for ``destroy_process_group`` before it gives up on it (pytorch#75097)
DESTROY_GRACE_S = 60.0


def shutdown(info: DistInfo, grace_s: float = DESTROY_GRACE_S) -> None:
    """Destroy the process group this run created, waiting at most ``grace_s`` seconds.

    Teardown of a process group hangs now and then (pytorch#75097): a rank that never returns from it keeps
    torchrun, and the cluster job, waiting until the wall-time limit. The outputs are written by then, so a
    hung destroy is left behind (with a warning and every thread's stack) instead of waited for.
    """
    if not (info.initialised_here and dist.is_initialized()):
        return
    worker = threading.Thread(target=dist.destroy_process_group, name="ems-destroy-process-group", daemon=True)
    worker.start()
    worker.join(grace_s)
    if worker.is_alive():
        logger.warning("rank %d: destroy_process_group still running after %.0f s (a PyTorch teardown hang, "
                       "pytorch#75097); the outputs are complete, leaving it behind. Stacks:", info.rank, grace_s)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)


def exit_now(code: int) -> NoReturn:
    """Flush the logs and end this process with ``code``, skipping interpreter teardown.

    Used by a torchrun rank once its outputs and tracking are written: teardown of the communication
    threads can hang there (pytorch#75097) and there is nothing left that it would save.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
