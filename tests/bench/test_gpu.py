"""GPU readings for the bench, and what a machine without a GPU reports."""

from __future__ import annotations

import pytest

from bridge.bench.gpu import GpuSample, GpuSampler, parse_nvidia_smi


def test_nvidia_smi_lines_are_read_per_gpu() -> None:
    assert parse_nvidia_smi("37, 5120, 81559\n0, 3, 81559\n") == [
        GpuSample(37.0, 5120.0, 81559.0),
        GpuSample(0.0, 3.0, 81559.0),
    ]
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        parse_nvidia_smi("N/A\n")


def test_a_machine_without_a_gpu_says_so() -> None:
    assert "CPU-only" in GpuSampler(source=None).summary()["gpu"]
    sampler = GpuSampler(source="nvidia-smi")
    sampler.samples = [[GpuSample(40, 1000, 80000)], [GpuSample(60, 1200, 80000)]]
    assert sampler.summary() == {
        "gpu": "nvidia-smi",
        "gpu_util_mean_pct": 50.0,
        "gpu_util_max_pct": 60,
        "gpu_memory_max_mb": 1200,
        "gpu_memory_total_mb": 80000,
    }
