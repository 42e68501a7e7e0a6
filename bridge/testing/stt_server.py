"""An OpenAI-compatible ``/v1/audio/transcriptions`` server backed by the local faster-whisper
model, so tests can drive the remote STT backend (``BRIDGE_STT_BACKEND=openai``) with speech
that really transcribes.

Run on its own: ``python -m bridge.testing.stt_server --port 8082`` (the bundled tiny.en model).
"""

from __future__ import annotations

import argparse
import io
import socket
import sys
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bridge.audio import StreamResampler
from bridge.pipeline.stt import SAMPLE_RATE, SpeechToText


@dataclass
class TranscriptionServer:
    """Transcribes uploaded WAV files (16-bit PCM, mono or stereo, any rate) with ``stt``.
    ``requests`` records each request's form fields (without the file) and the text returned."""

    stt: SpeechToText
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"])]
        )

    async def _transcribe(self, request: Request) -> Response:
        async with request.form() as form:  # closes the uploaded file's spool
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return _error("a 'file' part is required")
            data = await upload.read()
            fields = {key: str(value) for key, value in form.items() if key != "file"}
        try:
            pcm16k = _wav_to_pcm16k(data)
        except (wave.Error, EOFError, ValueError) as exc:
            return _error(f"not a 16-bit PCM WAV file: {exc}")
        transcript = await self.stt.transcribe(
            pcm16k, language=fields.get("language") or None, prompt=fields.get("prompt") or None
        )
        self.requests.append({**fields, "text": transcript.text})
        if fields.get("response_format") == "text":
            return PlainTextResponse(transcript.text)
        return JSONResponse({"text": transcript.text})


def _error(message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, 400)


def _wav_to_pcm16k(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("expected 16-bit samples")
        channels, rate = wav.getnchannels(), wav.getframerate()
        pcm = wav.readframes(wav.getnframes())
    if channels != 1:
        import numpy as np

        samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
        pcm = samples.mean(axis=1).astype("<i2").tobytes()
    return StreamResampler(rate, SAMPLE_RATE).process(pcm) if rate != SAMPLE_RATE else pcm


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m bridge.testing.stt_server",
        description="Serve the bundled faster-whisper model as an OpenAI-compatible "
        "/v1/audio/transcriptions endpoint (for tests and trying things out).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8082, help="listen port (default: %(default)s)")
    args = parser.parse_args(argv)
    stt = SpeechToText(device="cpu")
    sock = socket.create_server((args.host, args.port))
    url = f"http://{args.host}:{sock.getsockname()[1]}/v1"
    print(f"transcriptions at {url}; try: BRIDGE_STT_BACKEND=openai BRIDGE_STT_BASE_URL={url}")
    config = uvicorn.Config(TranscriptionServer(stt).app(), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
