"""onnxruntime sessions for a voice server's short, bursty inference runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.logging import get_logger


def cpu_session_options(threads: int) -> Any:
    """``threads`` intra-op threads that sleep between runs instead of spinning.

    onnxruntime's default spin-wait keeps every worker thread busy for a while after each run;
    with inference every few milliseconds per call (VAD) or per clause (TTS), that burns whole
    cores for nothing and starves the other calls on a small machine.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def cpu_session(model: Path, threads: int) -> Any:
    """A CPU session for the model at ``model``, its 1-D convolutions made 2-D (faster; see
    :mod:`bridge.pipeline.conv2d`). Should the rewritten graph not load (a model shape the
    rewrite did not foresee), the model is loaded as it is: slower, never broken."""
    import onnxruntime

    from bridge.pipeline.conv2d import conv1d_as_conv2d

    def session(source: bytes | str) -> Any:
        return onnxruntime.InferenceSession(
            source, sess_options=cpu_session_options(threads), providers=["CPUExecutionProvider"]
        )

    try:
        return session(conv1d_as_conv2d(model))
    except Exception as exc:  # onnx and onnxruntime raise many unrelated types
        get_logger("bridge.onnx").warning(
            "loading the model without the convolution rewrite", model=str(model), error=str(exc)
        )
        return session(str(model))
