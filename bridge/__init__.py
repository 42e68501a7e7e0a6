"""voice bridge: an AI voice agent for phone calls and /v1/realtime, on a local pipeline."""

__version__ = "0.1.0"
