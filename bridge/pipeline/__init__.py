"""The voice pipeline: VAD and turn detection, STT, LLM, TTS, and the text that flows between."""
