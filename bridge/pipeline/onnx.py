"""onnxruntime sessions for a voice server's short, bursty inference runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.logging import get_logger


def cpu_session_options(threads: int, shapes_vary: bool = False) -> Any:
    """``threads`` intra-op threads that sleep between runs instead of spinning.

    onnxruntime's default spin-wait keeps every worker thread busy for a while after each run;
    with inference every few milliseconds per call (VAD) or per clause (TTS), that burns whole
    cores for nothing and starves the other calls on a small machine.

    ``shapes_vary``: inputs whose shape changes from run to run (a clause's phonemes). The
    memory pattern onnxruntime plans and keeps for each input shape then only piles up: with
    it, a voice's resident memory grew by 156 MB over 300 clauses, and stepped up again at
    random minutes into a soak; without it, by 60 MB within the first 50, at the same speed.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = not shapes_vary
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def cpu_session(model: Path, threads: int, shapes_vary: bool = False) -> Any:
    """A CPU session for the model at ``model``, its 1-D convolutions made 2-D (faster; see
    :mod:`bridge.pipeline.conv2d`). Should the rewritten graph not load (a model shape the
    rewrite did not foresee), the model is loaded as it is: slower, never broken."""
    import onnxruntime

    from bridge.pipeline.conv2d import conv1d_as_conv2d

    def session(source: bytes | str) -> Any:
        options = cpu_session_options(threads, shapes_vary)
        return onnxruntime.InferenceSession(
            source, sess_options=options, providers=["CPUExecutionProvider"]
        )

    try:
        return session(conv1d_as_conv2d(model))
    except Exception as exc:  # onnx and onnxruntime raise many unrelated types
        get_logger("bridge.onnx").warning(
            "loading the model without the convolution rewrite", model=str(model), error=str(exc)
        )
        return session(str(model))


class DeviceError(Exception):
    """A device was asked for that this machine cannot use."""


CUDA_PROVIDER = "CUDAExecutionProvider"


def onnx_providers() -> list[str]:
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def resolve_onnx_device(device: str) -> str:
    """``auto``: CUDA when onnxruntime has its CUDA provider (the ``onnxruntime-gpu`` build),
    else the CPU. ``cuda`` without that provider is an error that says how to get it."""
    if device not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"unknown TTS device {device!r}: choose auto, cpu or cuda")
    has_cuda = CUDA_PROVIDER in onnx_providers()
    if device == "cuda" and not has_cuda:
        raise DeviceError(
            "BRIDGE_TTS_DEVICE=cuda but onnxruntime has no CUDA provider (providers: "
            f"{', '.join(onnx_providers())}): replace onnxruntime with onnxruntime-gpu "
            "(pip uninstall -y onnxruntime && pip install onnxruntime-gpu), or use auto or cpu"
        )
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device


def session_on(model: Path, threads: int, device: str, shapes_vary: bool = False) -> Any:
    """A session for ``model`` on ``device`` (``cpu`` or ``cuda``, as resolved). On CUDA the
    graph is loaded as it is (the convolution rewrite is for the CPU's kernels), and a session
    that fell back to the CPU (onnxruntime does so quietly when the CUDA libraries are missing)
    is an error rather than a slow surprise."""
    if device != "cuda":
        return cpu_session(model, threads, shapes_vary)
    import onnxruntime

    options = cpu_session_options(threads, shapes_vary)
    session = onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=[CUDA_PROVIDER, "CPUExecutionProvider"]
    )
    if session.get_providers()[0] != CUDA_PROVIDER:
        raise DeviceError(
            "onnxruntime could not start its CUDA provider (are CUDA 12 and cuDNN 9 installed?)"
        )
    return session
