"""Framer: fixed-size frames out of arbitrary chunks, remainder handling and padding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.audio import Framer, G711Law, frame_bytes


@pytest.mark.parametrize(
    ("rate", "ms", "width", "expected"),
    [
        (8000, 20, 2, 320),
        (8000, 20, 1, 160),
        (16000, 20, 2, 640),
        (24000, 20, 2, 960),
        (22050, 20, 2, 882),
        (48000, 10, 2, 960),
    ],
)
def test_frame_bytes(rate: int, ms: int, width: int, expected: int) -> None:
    assert frame_bytes(rate, ms, width) == expected


def test_frame_bytes_defaults_to_20ms_pcm16() -> None:
    assert frame_bytes(8000) == 320


def test_frame_bytes_rejects_fractional_samples_and_bad_args() -> None:
    with pytest.raises(ValueError, match="whole number of samples"):
        frame_bytes(22050, 10)
    with pytest.raises(ValueError, match="positive"):
        frame_bytes(0)


def test_push_splits_and_keeps_remainder() -> None:
    f = Framer(4)
    assert f.push(b"ab") == []
    assert f.pending == 2
    assert f.push(b"cdefghijk") == [b"abcd", b"efgh"]
    assert f.pending == 3
    assert f.push(b"l") == [b"ijkl"]
    assert f.pending == 0
    assert f.push(b"") == []


def test_exact_multiple_leaves_nothing_pending() -> None:
    f = Framer(3)
    assert f.push(b"abcdef") == [b"abc", b"def"]
    assert f.pending == 0
    assert f.flush() is None


def test_flush_pads_with_silence_byte() -> None:
    f = Framer(6, silence=G711Law.PCMU.silence)
    f.push(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    assert f.flush() == b"\x07\x08\xff\xff\xff\xff"
    assert f.pending == 0
    assert f.flush() is None


def test_flush_default_silence_is_zero_and_alaw_silence() -> None:
    f = Framer(4)
    f.push(b"x")
    assert f.flush() == b"x\x00\x00\x00"
    g = Framer(4, silence=G711Law.PCMA.silence)
    g.push(b"x")
    assert g.flush() == b"x\xd5\xd5\xd5"


def test_flush_without_padding_returns_remainder() -> None:
    f = Framer(4)
    f.push(b"abcdef")
    assert f.flush(pad=False) == b"ef"
    assert f.pending == 0


def test_clear_drops_pending() -> None:
    f = Framer(4)
    f.push(b"abc")
    f.clear()
    assert f.pending == 0
    assert f.push(b"wxyz") == [b"wxyz"]


@pytest.mark.parametrize(("size", "silence"), [(0, b"\x00"), (-4, b"\x00"), (4, b""), (4, b"ab")])
def test_bad_arguments(size: int, silence: bytes) -> None:
    with pytest.raises(ValueError, match="must be"):
        Framer(size, silence=silence)


@settings(max_examples=100, deadline=None, database=None)
@given(
    size=st.integers(min_value=1, max_value=50),
    chunks=st.lists(st.binary(max_size=120), max_size=30),
)
def test_frames_reassemble_the_stream(size: int, chunks: list[bytes]) -> None:
    f = Framer(size)
    frames = [frame for chunk in chunks for frame in f.push(chunk)]
    stream = b"".join(chunks)
    assert all(len(frame) == size for frame in frames)
    assert len(frames) == len(stream) // size
    assert f.pending == len(stream) % size
    tail = f.flush(pad=False)
    assert b"".join(frames) + (tail or b"") == stream
