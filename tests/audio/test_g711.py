"""G.711 against golden code points and an independent model of the companding laws.

The model below follows the segment/mantissa definition in ITU-T G.711 and does not use
audioop. G.711 codes a 14-bit (μ-law) or 13-bit (A-law) uniform sample; we take the top
bits of the 16-bit sample (an arithmetic shift). For a negative μ-law input the magnitude is
``-v`` (so -1..-4 in 16-bit terms code as 0x7E, -8); for A-law, which has no zero level, it
is ``-v - 1`` (so -1 codes as 0x55, -8). Decoded values are scaled back to 16 bits.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest

from bridge.audio import (
    G711Law,
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)

ALL_CODES = bytes(range(256))
ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()

# --- reference model -------------------------------------------------------------------

ULAW_BIAS = 33  # in 14-bit units
ULAW_MAX_BIASED = 0x1FFF


def ref_ulaw_decode(code: int) -> int:
    u = ~code & 0xFF  # μ-law codes are transmitted with all bits inverted
    negative = bool(u & 0x80)
    segment = (u >> 4) & 0x7
    mantissa = u & 0xF
    # Reconstruction level in 14-bit units, at the middle of the decision interval.
    magnitude14 = ((2 * mantissa + ULAW_BIAS) << segment) - ULAW_BIAS
    value = magnitude14 * 4
    return -value if negative else value


def ref_ulaw_encode(sample: int) -> int:
    v = sample >> 2  # 16-bit -> 14-bit
    negative = v < 0
    biased = min((-v if negative else v) + ULAW_BIAS, ULAW_MAX_BIASED)
    # biased lies in [32 * 2**segment, 64 * 2**segment).
    segment = biased.bit_length() - 6
    mantissa = (biased >> (segment + 1)) & 0xF
    return ~((negative << 7) | (segment << 4) | mantissa) & 0xFF


def ref_alaw_decode(code: int) -> int:
    a = code ^ 0x55  # even bits are inverted on the line
    positive = bool(a & 0x80)
    segment = (a >> 4) & 0x7
    mantissa = a & 0xF
    # Reconstruction level in 13-bit units, at the middle of the decision interval.
    magnitude13 = 2 * mantissa + 1 if segment == 0 else (2 * mantissa + 33) << (segment - 1)
    value = magnitude13 * 8
    return value if positive else -value


def ref_alaw_encode(sample: int) -> int:
    v = sample >> 3  # 16-bit -> 13-bit
    positive = v >= 0
    magnitude = min(v if positive else -v - 1, 0xFFF)
    if magnitude < 32:
        segment, mantissa = 0, magnitude >> 1
    else:
        # magnitude lies in [16 * 2**segment, 32 * 2**segment).
        segment = magnitude.bit_length() - 5
        mantissa = (magnitude >> segment) & 0xF
    return ((positive << 7) | (segment << 4) | mantissa) ^ 0x55


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples_of(data: bytes) -> list[int]:
    values: list[int] = np.frombuffer(data, dtype="<i2").tolist()
    return values


# --- golden vectors --------------------------------------------------------------------

ULAW_DECODE_GOLDEN = {
    0xFF: 0,
    0x7F: 0,  # "negative zero"
    0x80: 32124,
    0x00: -32124,
    0xFE: 8,
    0x7E: -8,
    0xF0: 120,
    0xEF: 132,
    0xC0: 1884,
    0x40: -1884,
    0xA0: 7932,
    0x8F: 16764,
}

ALAW_DECODE_GOLDEN = {
    0xD5: 8,
    0x55: -8,
    0xAA: 32256,
    0x2A: -32256,
    0xD4: 24,
    0xC5: 264,
    0xFA: 1008,
    0xE5: 1056,
    0x80: 5504,
    0x00: -5504,
}

ULAW_ENCODE_GOLDEN = {0: 0xFF, 3: 0xFF, 4: 0xFE, -1: 0x7E, 32767: 0x80, -32768: 0x00, 132: 0xEF}
ALAW_ENCODE_GOLDEN = {0: 0xD5, 15: 0xD5, 16: 0xD4, -1: 0x55, 32767: 0xAA, -32768: 0x2A}


@pytest.mark.parametrize(("code", "value"), ULAW_DECODE_GOLDEN.items())
def test_ulaw_decode_golden(code: int, value: int) -> None:
    assert samples_of(ulaw_to_pcm16(bytes([code]))) == [value]
    assert ref_ulaw_decode(code) == value


@pytest.mark.parametrize(("code", "value"), ALAW_DECODE_GOLDEN.items())
def test_alaw_decode_golden(code: int, value: int) -> None:
    assert samples_of(alaw_to_pcm16(bytes([code]))) == [value]
    assert ref_alaw_decode(code) == value


@pytest.mark.parametrize(("value", "code"), ULAW_ENCODE_GOLDEN.items())
def test_ulaw_encode_golden(value: int, code: int) -> None:
    assert pcm16_to_ulaw(pcm(value)) == bytes([code])
    assert ref_ulaw_encode(value) == code


@pytest.mark.parametrize(("value", "code"), ALAW_ENCODE_GOLDEN.items())
def test_alaw_encode_golden(value: int, code: int) -> None:
    assert pcm16_to_alaw(pcm(value)) == bytes([code])
    assert ref_alaw_encode(value) == code


def test_pcm_is_little_endian() -> None:
    assert ulaw_to_pcm16(b"\x80") == b"\x7c\x7d"  # 32124 = 0x7D7C
    assert pcm16_to_ulaw(b"\xff\x7f") == b"\x80"  # 32767
    assert pcm16_to_alaw(b"\x00\x80") == b"\x2a"  # -32768


# --- full tables against the model -----------------------------------------------------


def test_ulaw_decode_all_codes() -> None:
    assert samples_of(ulaw_to_pcm16(ALL_CODES)) == [ref_ulaw_decode(c) for c in ALL_CODES]


def test_alaw_decode_all_codes() -> None:
    assert samples_of(alaw_to_pcm16(ALL_CODES)) == [ref_alaw_decode(c) for c in ALL_CODES]


def test_ulaw_encode_all_samples() -> None:
    expected = bytes(ref_ulaw_encode(s) for s in range(-32768, 32768))
    assert pcm16_to_ulaw(ALL_PCM) == expected


def test_alaw_encode_all_samples() -> None:
    expected = bytes(ref_alaw_encode(s) for s in range(-32768, 32768))
    assert pcm16_to_alaw(ALL_PCM) == expected


def test_decode_is_monotonic_and_odd_symmetric() -> None:
    # Sanity of the model itself, so a shared mistake with audioop is less likely.
    for decode in (ref_ulaw_decode, ref_alaw_decode):
        levels = sorted({decode(c) for c in range(256)})
        assert all(decode(c) == -decode(c ^ 0x80) for c in range(256))
        assert len(levels) == (255 if decode is ref_ulaw_decode else 256)


# --- round trips -----------------------------------------------------------------------


def test_ulaw_round_trip_all_codes() -> None:
    back = pcm16_to_ulaw(ulaw_to_pcm16(ALL_CODES))
    # 0x7F is μ-law's negative zero; it decodes to 0, which encodes as positive zero 0xFF.
    expected = bytearray(ALL_CODES)
    expected[0x7F] = 0xFF
    assert back == bytes(expected)


def test_alaw_round_trip_all_codes() -> None:
    assert pcm16_to_alaw(alaw_to_pcm16(ALL_CODES)) == ALL_CODES


# --- errors and the law helper ---------------------------------------------------------


@pytest.mark.parametrize(
    "encode", [pcm16_to_ulaw, pcm16_to_alaw, G711Law.PCMU.encode, G711Law.PCMA.encode]
)
def test_odd_length_pcm_raises(encode: Callable[[bytes], bytes]) -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        encode(b"\x00\x00\x00")


def test_empty_input() -> None:
    assert pcm16_to_ulaw(b"") == b""
    assert alaw_to_pcm16(b"") == b""


@pytest.mark.parametrize(
    ("name", "law"),
    [
        ("pcmu", G711Law.PCMU),
        ("PCMU", G711Law.PCMU),
        ("ulaw", G711Law.PCMU),
        ("mu-law", G711Law.PCMU),
        ("pcma", G711Law.PCMA),
        ("PCMA", G711Law.PCMA),
        ("alaw", G711Law.PCMA),
    ],
)
def test_law_from_name(name: str, law: G711Law) -> None:
    assert G711Law.from_name(name) is law


def test_law_by_value_and_unknown_name() -> None:
    assert G711Law("pcmu") is G711Law.PCMU
    assert G711Law("pcma") is G711Law.PCMA
    with pytest.raises(ValueError, match=r"unknown G\.711 law"):
        G711Law.from_name("g722")


def test_law_helper_matches_functions() -> None:
    assert G711Law.PCMU.encode(ALL_PCM) == pcm16_to_ulaw(ALL_PCM)
    assert G711Law.PCMA.encode(ALL_PCM) == pcm16_to_alaw(ALL_PCM)
    assert G711Law.PCMU.decode(ALL_CODES) == ulaw_to_pcm16(ALL_CODES)
    assert G711Law.PCMA.decode(ALL_CODES) == alaw_to_pcm16(ALL_CODES)


def test_law_silence_and_payload_type() -> None:
    assert G711Law.PCMU.silence == b"\xff"
    assert G711Law.PCMA.silence == b"\xd5"
    assert G711Law.PCMU.encode(pcm(0)) == G711Law.PCMU.silence
    assert G711Law.PCMA.encode(pcm(0)) == G711Law.PCMA.silence
    assert (G711Law.PCMU.payload_type, G711Law.PCMA.payload_type) == (0, 8)
