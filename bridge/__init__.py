"""voice bridge: an AI voice agent for phone calls and the OpenAI realtime API, on a local pipeline."""

__version__ = "0.1.0"
