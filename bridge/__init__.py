"""voice bridge: an AI voice agent for phone calls and /v1/realtime, on a local pipeline."""

import os

# numpy's OpenBLAS starts a worker per core and keeps it spinning after each product; ours are
# 20 ms audio frames, too small to share out, so the spinning was pure cost (about 1 % of a core
# per call). Set before anything imports numpy; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
