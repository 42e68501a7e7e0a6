"""Asterisk AudioSocket: a plain TCP stream of typed frames (``AudioSocket()`` app or channel).

Each frame is a kind byte, a big-endian 16-bit payload length and the payload. Asterisk sends
``0x01`` (the call's UUID, 16 bytes, always first), ``0x10`` (signed linear 16-bit
little-endian, 8 kHz mono: 320 bytes per 20 ms), ``0x03`` (one DTMF digit as an ASCII byte) and
may send ``0xff`` (an error; the payload is an optional bit-packed code). It reads back only
audio and ``0x00`` (hang up); anything else, or an empty audio frame, makes it drop the call.
A caller's hangup is the socket closing.

Newer Asterisk also carries other linear rates as kinds ``0x11``-``0x18`` (slin12 ... slin192),
used by the channel driver with a ``c(slinNN)`` codec option. The rate is not announced on the
wire, so the codec is told it (8 kHz, the dialplan application's fixed format, by default).

Because TCP is a byte stream, :meth:`AudioSocketCodec.receive` takes chunks of any size and
keeps a partial frame until the rest arrives. There are no marks and no clear: Asterisk writes
each frame to the channel as it comes and cannot recall them, so the adapter must pace audio in
real time and keep what is in flight short.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any, Literal

from bridge.audio.format import AudioFormat
from bridge.carriers.base import (
    CallEnded,
    CallEvent,
    CallStarted,
    CarrierProtocolError,
    DtmfReceived,
    Frame,
    MediaReceived,
)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10  # slin, 8 kHz
KIND_ERROR = 0xFF
# Kind for each linear rate (Asterisk's slin, slin12 ... slin192).
AUDIO_KINDS: dict[int, int] = {
    8000: 0x10,
    12000: 0x11,
    16000: 0x12,
    24000: 0x13,
    32000: 0x14,
    44100: 0x15,
    48000: 0x16,
    96000: 0x17,
    192000: 0x18,
}
RATE_OF_KIND = {kind: rate for rate, kind in AUDIO_KINDS.items()}
HEADER = struct.Struct("!BH")  # kind, payload length (network byte order)
MAX_PAYLOAD = 0xFFFF
MAX_AUDIO_PAYLOAD = MAX_PAYLOAD - 1  # whole samples only
DTMF_DIGITS = frozenset("0123456789*#ABCD")
# Asterisk's bit-packed error codes (from the protocol's reference implementation).
ERROR_BITS = {0x01: "hangup of calling party", 0x02: "frame forwarding error", 0x04: "memory error"}


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One wire frame."""
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"kind {kind} does not fit in a byte")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a {len(payload)}-byte payload does not fit a 16-bit length")
    return HEADER.pack(kind, len(payload)) + payload


def _kind_name(kind: int) -> str:
    if kind in RATE_OF_KIND:
        return f"0x{kind:02x} (audio at {RATE_OF_KIND[kind]} Hz)"
    return f"0x{kind:02x}"


def _error_reason(payload: bytes) -> str:
    if not payload:
        return "error"
    code = payload[0]
    meanings = [text for bit, text in ERROR_BITS.items() if code & bit]
    return f"error 0x{code:02x}" + (f" ({', '.join(meanings)})" if meanings else "")


class FrameReader:
    """Reassembles frames from TCP chunks: keeps a partial frame until the rest arrives."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back as a partial frame."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk

    def next_frame(self) -> tuple[int, bytes] | None:
        """The next complete (kind, payload), or None until more bytes arrive."""
        if len(self._buffer) < HEADER.size:
            return None
        kind, length = HEADER.unpack_from(self._buffer)
        end = HEADER.size + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[HEADER.size : end])
        del self._buffer[:end]
        return kind, payload


def _as_chunk(data: Frame) -> bytes:
    if isinstance(data, str):
        raise CarrierProtocolError("AudioSocket is a binary TCP stream; text is not part of it")
    return data


class AudioSocketCodec:
    name = "audiosocket"
    # No acknowledgements: the adapter estimates playout from its own pacing.
    playout_acks: Literal["mark", "none"] = "none"
    # Asterisk cannot drop audio it was given, so a barge-in still hears what it holds: less
    # than the carriers that can clear are given.
    lead_ms = 200

    def __init__(self, sample_rate: int = 8000) -> None:
        if sample_rate not in AUDIO_KINDS:
            raise ValueError(f"AudioSocket has no audio kind for {sample_rate} Hz")
        self.media_format = AudioFormat("pcm16", sample_rate)
        self.audio_kind = AUDIO_KINDS[sample_rate]
        self.call_id = ""
        self._reader = FrameReader()
        self._held: list[CallEvent] = []  # parsed before a bad frame; delivered next time

    def receive(self, frame: Frame) -> list[CallEvent]:
        """Events for every frame completed by this chunk (a partial frame waits for more).

        Malformed frames are dropped and, once every complete frame of the chunk is read,
        raise one CarrierProtocolError; the events of the good frames are kept and returned
        with the next chunk. (Stopping at the first bad frame left the frames behind it, a
        hang-up included, waiting for bytes that might never come.)
        """
        self._reader.feed(_as_chunk(frame))
        events, self._held = self._held, []
        problems: list[str] = []
        while (complete := self._reader.next_frame()) is not None:
            try:
                event = self._event(*complete)
            except CarrierProtocolError as exc:
                problems.append(str(exc))
                continue
            if event is not None:
                events.append(event)
        if problems:
            self._held = events
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise CarrierProtocolError(problems[0] + more)
        return events

    def _event(self, kind: int, payload: bytes) -> CallEvent | None:
        if kind == KIND_UUID:
            if self.call_id:
                raise CarrierProtocolError("a second UUID frame on one connection")
            if len(payload) != 16:
                raise CarrierProtocolError(f"UUID frame of {len(payload)} bytes (needs 16)")
            self.call_id = str(uuid.UUID(bytes=payload))
            return CallStarted(call_id=self.call_id, media=self.media_format)
        if kind == KIND_HANGUP:
            return CallEnded("hangup")
        if kind == KIND_ERROR:
            return CallEnded(_error_reason(payload))
        if not self.call_id:
            raise CarrierProtocolError(f"frame kind {_kind_name(kind)} before the UUID frame")
        if kind == self.audio_kind:
            if not payload or len(payload) % 2:
                raise CarrierProtocolError(
                    f"audio frame of {len(payload)} bytes is not a whole number of samples"
                )
            return MediaReceived(payload)
        if kind in RATE_OF_KIND:
            raise CarrierProtocolError(
                f"audio kind {_kind_name(kind)} on a call set up for"
                f" {self.media_format.sample_rate} Hz"
            )
        if kind == KIND_DTMF:
            digit = payload.decode("ascii", errors="replace")
            if len(payload) != 1 or digit.upper() not in DTMF_DIGITS:
                raise CarrierProtocolError(f"DTMF frame with an invalid digit {payload!r}")
            return DtmfReceived(digit.upper())
        raise CarrierProtocolError(
            f"unknown frame kind {_kind_name(kind)} ({len(payload)}-byte payload)"
        )

    def media(self, audio: bytes) -> list[Frame]:
        # Asterisk treats an empty audio frame as an error; a long one must fit a 16-bit length.
        return [
            encode_frame(self.audio_kind, audio[start : start + MAX_AUDIO_PAYLOAD])
            for start in range(0, len(audio), MAX_AUDIO_PAYLOAD)
        ]

    def mark(self, name: str) -> list[Frame]:
        return []  # no playout reports in this protocol

    def clear(self) -> list[Frame]:
        return []  # Asterisk cannot recall audio it has been given

    def hangup(self) -> list[Frame]:
        return [encode_frame(KIND_HANGUP)]


class AudioSocketCarrierSide:
    """What Asterisk sends and does, for the simulated caller and tests."""

    def __init__(self, call_id: str | None = None, sample_rate: int = 8000) -> None:
        if sample_rate not in AUDIO_KINDS:
            raise ValueError(f"AudioSocket has no audio kind for {sample_rate} Hz")
        self.call_id = uuid.UUID(call_id) if call_id else uuid.uuid4()
        self.media_format = AudioFormat("pcm16", sample_rate)
        self.audio_kind = AUDIO_KINDS[sample_rate]
        self._reader = FrameReader()

    def uuid(self) -> bytes:
        """The opening frame: the connection's UUID."""
        return encode_frame(KIND_UUID, self.call_id.bytes)

    def media(self, audio: bytes) -> bytes:
        return encode_frame(self.audio_kind, audio)

    def dtmf(self, digit: str) -> bytes:
        return encode_frame(KIND_DTMF, digit.encode("ascii"))

    def error(self, code: int | None = 0x01) -> bytes:
        return encode_frame(KIND_ERROR, b"" if code is None else bytes([code]))

    def hangup(self) -> bytes:
        """The protocol's explicit hangup (Asterisk itself usually just closes the socket)."""
        return encode_frame(KIND_HANGUP)

    def stop(self) -> list[Frame]:
        return []  # a caller's hangup is the socket closing

    def feed(self, chunk: Frame) -> list[tuple[str, Any]]:
        """Every outbound bridge frame completed by this TCP chunk, as :meth:`parse` reads it."""
        self._reader.feed(_as_chunk(chunk))
        parsed: list[tuple[str, Any]] = []
        while (complete := self._reader.next_frame()) is not None:
            parsed.append(self._read(*complete))
        return parsed

    def parse(self, frame: Frame) -> tuple[str, Any]:
        """Exactly one complete bridge frame as (``media``, audio) / (``hangup``, None)."""
        reader = FrameReader()
        reader.feed(_as_chunk(frame))
        complete = reader.next_frame()
        if complete is None or reader.pending:
            raise CarrierProtocolError("parse() takes exactly one whole frame; use feed()")
        return self._read(*complete)

    def _read(self, kind: int, payload: bytes) -> tuple[str, Any]:
        if kind == KIND_HANGUP:
            return "hangup", None
        if kind == self.audio_kind:
            if not payload:
                raise CarrierProtocolError("Asterisk drops the call on an empty audio frame")
            if len(payload) % 2:
                raise CarrierProtocolError(f"{len(payload)} bytes of audio is not whole samples")
            return "media", payload
        raise CarrierProtocolError(
            f"Asterisk drops the call on frame kind {_kind_name(kind)}"
            f" (it reads audio at {self.media_format.sample_rate} Hz and hangup only)"
        )
