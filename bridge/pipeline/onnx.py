"""onnxruntime session options for a voice server's short, bursty inference runs."""

from __future__ import annotations

from typing import Any


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
