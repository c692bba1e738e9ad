"""Data-parallel training through torch.distributed (DDP). Each process is started by torchrun, which sets
RANK/WORLD_SIZE/MASTER_ADDR; gloo on CPU, nccl on CUDA. Every rank draws the same permutation (same seed) and
trains on its own slice of each global batch; DDP averages the gradients, so all ranks keep equal weights."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> DistInfo:
    return DistInfo(
        int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
    )


def init(info: DistInfo, device: torch.device) -> None:
    if info.enabled and not dist.is_initialized():
        # a rank that waits longer than this for the others fails with an error instead of hanging (torch's
        # default is 30 minutes); DLSTUDIO_DIST_TIMEOUT in seconds
        timeout = timedelta(seconds=float(os.environ.get("DLSTUDIO_DIST_TIMEOUT", 600)))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout)


def mean_over_ranks(value: float, device: torch.device) -> float:
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        # wait for every rank (rank 0 may still be writing its report) before tearing gloo down: a rank that
        # leaves first can abort with "terminate called without an active exception"
        dist.barrier()
        dist.destroy_process_group()


def torchrun_argv(nproc: int, module_args: list[str]) -> list[str]:
    """The command that starts `nproc` local processes of `python -m dlstudio ...` under torchrun."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "dlstudio",
        *module_args,
    ]
