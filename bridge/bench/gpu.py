"""GPU utilisation and memory while the bench runs, from NVML (``pynvml`` / ``nvidia-ml-py``)
when it is installed, else from ``nvidia-smi``; on a machine with neither (a CPU-only one) the
sampler says so instead of reporting zeros.

It samples the GPUs of the machine the bench runs on: the bridge's, when the bench started it
(or the bridge runs on the same host); not a remote ``--url`` bridge's.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
from dataclasses import dataclass, field
from typing import Any

QUERY = "utilization.gpu,memory.used,memory.total"


@dataclass
class GpuSample:
    utilization_pct: float
    memory_used_mb: float
    memory_total_mb: float


def parse_nvidia_smi(text: str) -> list[GpuSample]:
    """``nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total
    --format=csv,noheader,nounits`` output: one line per GPU."""
    samples = []
    for line in text.strip().splitlines():
        fields = [part.strip() for part in line.split(",")]
        if len(fields) != 3:
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        samples.append(GpuSample(*(float(part) for part in fields)))
    return samples


def _nvml() -> Any:
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
    except Exception:  # not installed, or no driver
        return None
    return pynvml


def gpu_source() -> str | None:
    """``nvml``, ``nvidia-smi``, or None where this machine has no way to read a GPU."""
    if _nvml() is not None:
        return "nvml"
    if shutil.which("nvidia-smi") is not None:
        return "nvidia-smi"
    return None


async def sample_once(source: str) -> list[GpuSample]:
    if source == "nvml":
        nvml = _nvml()
        samples = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            samples.append(
                GpuSample(
                    float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                    memory.used / 2**20,
                    memory.total / 2**20,
                )
            )
        return samples
    process = await asyncio.create_subprocess_exec(
        "nvidia-smi", f"--query-gpu={QUERY}", "--format=csv,noheader,nounits",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await process.communicate()
    return parse_nvidia_smi(out.decode()) if process.returncode == 0 else []


@dataclass
class GpuSampler:
    """Samples every ``interval_s`` while entered; :meth:`summary` sums up what it saw."""

    interval_s: float = 0.5
    source: str | None = field(default_factory=gpu_source)
    samples: list[list[GpuSample]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> GpuSampler:
        if self.source is not None:
            self._task = asyncio.create_task(self._run(self.source))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, source: str) -> None:
        while True:
            with contextlib.suppress(OSError, ValueError):
                if sample := await sample_once(source):
                    self.samples.append(sample)
            await asyncio.sleep(self.interval_s)  # a sampling period, not a race

    def summary(self) -> dict[str, Any]:
        if self.source is None:
            return {"gpu": "none found (no nvidia-smi or pynvml): a CPU-only run"}
        if not self.samples:
            return {"gpu": f"{self.source}: no samples"}
        first = [sample[0] for sample in self.samples]  # the bridge's GPU: the first one
        return {
            "gpu": self.source,
            "gpu_util_mean_pct": round(statistics.fmean(s.utilization_pct for s in first), 1),
            "gpu_util_max_pct": max(s.utilization_pct for s in first),
            "gpu_memory_max_mb": max(s.memory_used_mb for s in first),
            "gpu_memory_total_mb": first[0].memory_total_mb,
        }
