"""AudioSocket byte streams: however TCP splits them, the codec reports the same events, and a
malformed frame is a CarrierProtocolError, never another exception or a lost later frame."""

from __future__ import annotations

import uuid
from typing import Any

from fuzz_profiles import FUZZ, Counter
from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    KIND_UUID,
    AudioSocketCodec,
    encode_frame,
)
from bridge.carriers.base import CallEvent, CarrierProtocolError

CALL = (
    encode_frame(KIND_UUID, uuid.UUID(int=42).bytes)
    + encode_frame(KIND_AUDIO, bytes(range(256)) * 2)
    + encode_frame(KIND_DTMF, b"5")
    + encode_frame(KIND_AUDIO, b"\x01\x00" * 160)
    + encode_frame(KIND_DTMF, b"#")
    + encode_frame(KIND_HANGUP)
)


def feed(chunks: list[bytes]) -> tuple[list[CallEvent], int]:
    """Every event the codec reports for ``chunks``, and how many protocol errors it raised."""
    codec = AudioSocketCodec()
    events: list[CallEvent] = []
    errors = 0
    for chunk in [*chunks, b""]:  # an empty chunk collects events held after an error
        try:
            events += codec.receive(chunk)
        except CarrierProtocolError:
            errors += 1
    return events, errors


def test_a_call_split_at_every_offset_and_every_pair_of_offsets_reads_the_same() -> None:
    whole, errors = feed([CALL])
    assert errors == 0
    assert len(whole) == 6
    runs = 0
    for first in range(len(CALL) + 1):
        assert feed([CALL[:first], CALL[first:]]) == (whole, 0)
        runs += 1
        for second in range(first, len(CALL) + 1, 7):
            assert feed([CALL[:first], CALL[first:second], CALL[second:]]) == (whole, 0)
            runs += 1
    assert runs >= 10_000


FRAMES = st.one_of(
    st.tuples(st.sampled_from([KIND_UUID, KIND_AUDIO, KIND_DTMF, KIND_HANGUP, KIND_ERROR]),
              st.binary(max_size=40)),
    st.tuples(st.integers(0, 255), st.binary(max_size=40)),
)  # fmt: skip


def test_any_stream_split_anywhere_is_events_or_protocol_errors() -> None:
    counter = Counter()

    @FUZZ
    @given(
        frames=st.lists(FRAMES, max_size=8),
        garbage=st.binary(max_size=12),
        cuts=st.lists(st.integers(0, 400), max_size=6),
    )
    def fuzz(frames: list[tuple[int, bytes]], garbage: bytes, cuts: list[int]) -> None:
        stream = b"".join(encode_frame(kind, payload) for kind, payload in frames) + garbage
        reference: Any = None
        # The same stream, whole and cut ten ways: the same events and errors every time.
        for shift in range(10):
            counter()
            points = sorted({min(len(stream), (c + shift * 13) % (len(stream) + 1)) for c in cuts})
            chunks = [
                stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)
            ]
            events, errors = feed(chunks)
            if reference is None:
                reference = (events, errors > 0)
            # Two bad frames in one chunk raise once, in two chunks twice: compare "any".
            assert (events, errors > 0) == reference

    fuzz()
    counter.check()
