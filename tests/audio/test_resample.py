"""StreamResampler: exact streaming counts, chunking invariance, delay and filtering."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from bridge.audio import StreamResampler

BASE_RATES = (8000, 16000, 24000, 48000)
PAIRS = [
    *itertools.permutations(BASE_RATES, 2),
    (22050, 8000),
    (22050, 16000),
    (22050, 24000),
    (8000, 22050),
    (44100, 48000),
    (48000, 44100),
    (11025, 8000),
]
DOWN_PAIRS = [(s, d) for s, d in PAIRS if d < s]
MAX_DELAY_S = 0.005
AMPLITUDE = 10000.0


def pair_id(pair: tuple[int, int]) -> str:
    return f"{pair[0]}->{pair[1]}"


def expected_total(n_in: int, src: int, dst: int) -> int:
    return -(-n_in * dst // src)  # ceil(n_in * dst / src), in exact integers


def noise(n: int, seed: int = 0) -> NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, size=n, endpoint=True).astype(np.int16)


def tone(freq: float, rate: int, seconds: float = 1.0) -> NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return np.rint(AMPLITUDE * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def settled_rms(freq: float, src: int, dst: int) -> float:
    """RMS of the output for a 1 s tone, skipping the first 20 ms while the filter fills."""
    y = StreamResampler(src, dst).process_array(tone(freq, src)).astype(np.float64)
    return float(np.sqrt(np.mean(y[dst // 50 :] ** 2)))


def gain_db(freq: float, src: int, dst: int) -> float:
    return float(20 * np.log10(max(settled_rms(freq, src, dst), 1e-3) / (AMPLITUDE / np.sqrt(2))))


# --- streaming exactness ---------------------------------------------------------------


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_random_chunking_counts_and_matches_one_shot(pair: tuple[int, int]) -> None:
    src, dst = pair
    rng = np.random.default_rng(src * 100003 + dst)
    sizes = rng.integers(0, 300, size=1000)
    x = noise(int(sizes.sum()), seed=src + dst)

    chunked = StreamResampler(src, dst)
    outputs: list[bytes] = []
    n_in = n_out = 0
    for size in sizes.tolist():
        out = chunked.process(x[n_in : n_in + size].tobytes())
        n_in += size
        n_out += len(out) // 2
        outputs.append(out)
        assert n_out == expected_total(n_in, src, dst)
    assert (chunked.samples_in, chunked.samples_out) == (n_in, n_out)

    one_shot = StreamResampler(src, dst).process_array(x)
    assert one_shot.dtype == np.int16
    assert b"".join(outputs) == one_shot.astype("<i2").tobytes()


@settings(max_examples=60, deadline=None, database=None)
@given(
    pair=st.sampled_from(PAIRS),
    sizes=st.lists(st.integers(min_value=0, max_value=500), max_size=25),
)
def test_any_chunking_is_exact(pair: tuple[int, int], sizes: list[int]) -> None:
    src, dst = pair
    x = noise(sum(sizes), seed=len(sizes))
    r = StreamResampler(src, dst)
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(r.process_array(x[start : start + size]))
        start += size
        assert r.samples_out == expected_total(start, src, dst)
    chunked = np.concatenate([np.zeros(0, np.int16), *pieces])
    np.testing.assert_array_equal(chunked, StreamResampler(src, dst).process_array(x))


def test_twenty_ms_frames_give_exact_frame_sizes() -> None:
    # 20 ms of 22050 Hz (441 samples) must become exactly 160 samples at 8 kHz, every time.
    r = StreamResampler(22050, 8000)
    frame = noise(441).tobytes()
    assert {len(r.process(frame)) for _ in range(100)} == {320}


def test_tiny_chunks_can_yield_nothing() -> None:
    r = StreamResampler(48000, 8000)
    got = [len(r.process_array(np.array([100], dtype=np.int16))) for _ in range(12)]
    # Output n appears once input floor(6n) has arrived: inputs #0 and #6 (0-based).
    assert got == [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("pair", [*PAIRS, (8000, 8000)], ids=pair_id)
def test_skipped_silence_keeps_the_count(pair: tuple[int, int]) -> None:
    src, dst = pair
    frame = src // 50
    skipping, filtering = StreamResampler(src, dst), StreamResampler(src, dst)
    loud, quiet = noise(frame), np.zeros(frame, dtype=np.int16)
    for chunk in (loud, quiet, quiet, loud, quiet):
        filtered = filtering.process_array(chunk)
        if chunk is quiet:
            assert skipping.skip(frame) == len(filtered)
        else:
            assert len(skipping.process_array(chunk)) == len(filtered)
    assert (skipping.samples_in, skipping.samples_out) == (filtering.samples_in,
                                                          filtering.samples_out)  # fmt: skip
    # After two skipped frames of true silence the history is the same: identical output.
    np.testing.assert_array_equal(skipping.process_array(loud), filtering.process_array(loud))


def test_reset_starts_over() -> None:
    x = noise(1000)
    r = StreamResampler(24000, 8000)
    first = r.process_array(x)
    r.process_array(noise(123, seed=5))
    r.reset()
    assert (r.samples_in, r.samples_out) == (0, 0)
    np.testing.assert_array_equal(r.process_array(x), first)


# --- delay, measured -------------------------------------------------------------------


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_impulse_response_is_causal_and_peaks_within_5ms(pair: tuple[int, int]) -> None:
    src, dst = pair
    r = StreamResampler(src, dst)
    # Put the impulse on an instant that is also on the output grid (a multiple of
    # src/gcd input samples), at least 20 ms in, so the peak time is not quantised away.
    step = src // np.gcd(src, dst)
    at = step * -(-(src // 50) // step)
    x = np.zeros(at + src // 20, dtype=np.int16)
    x[at] = 30000
    y = r.process_array(x)

    impulse_time = at / src
    times = np.arange(y.size) / dst
    assert not y[times < impulse_time].any()  # nothing before the input arrives
    measured = float(times[np.argmax(np.abs(y))]) - impulse_time
    assert 0.0 < measured <= MAX_DELAY_S
    assert abs(measured - r.delay_seconds) <= 1 / dst


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_tone_phase_delay_matches_property(pair: tuple[int, int]) -> None:
    src, dst = pair
    freq = 50.0  # 20 ms period, so any delay under 10 ms is measured unambiguously
    r = StreamResampler(src, dst)
    y = r.process_array(tone(freq, src)).astype(np.float64)[dst // 50 :]
    t = (np.arange(y.size) + dst // 50) / dst
    # Fit y = a*sin(wt) + b*cos(wt) = A*sin(w(t - d)), so a = A cos(wd), b = -A sin(wd).
    basis = np.column_stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)])
    (a, b), *_ = np.linalg.lstsq(basis, y, rcond=None)
    measured = float(np.arctan2(-b, a)) / (2 * np.pi * freq)
    assert 0.0 < measured <= MAX_DELAY_S
    assert measured == pytest.approx(r.delay_seconds, abs=2e-6)
    assert r.delay_samples == pytest.approx(r.delay_seconds * dst)


# --- frequency response ----------------------------------------------------------------


def test_6khz_at_24k_to_8k_is_rejected() -> None:
    # 6 kHz would alias to 2 kHz at 8 kHz without the low-pass.
    passed = settled_rms(1000, 24000, 8000)
    aliased = settled_rms(6000, 24000, 8000)
    attenuation = 20 * np.log10(passed / max(aliased, 1e-3))
    assert attenuation >= 40.0


@pytest.mark.parametrize("pair", DOWN_PAIRS, ids=pair_id)
def test_stopband_above_output_nyquist(pair: tuple[int, int]) -> None:
    src, dst = pair
    nyquist = dst / 2
    for freq in np.linspace(nyquist + 250, src / 2 - 250, 5):
        assert gain_db(float(freq), src, dst) <= -60.0, f"{freq:.0f} Hz leaks"


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_passband_tones_within_1db(pair: tuple[int, int]) -> None:
    src, dst = pair
    # 1 kHz, and the top of the band that matters (3 kHz when one side is 8 kHz).
    for freq in (1000.0, 0.375 * min(src, dst)):
        assert abs(gain_db(freq, src, dst)) <= 1.0, f"{freq:.0f} Hz"


def test_dc_gain_is_exact() -> None:
    for src, dst in PAIRS:
        y = StreamResampler(src, dst).process_array(np.full(src // 10, 1234, dtype=np.int16))
        assert (y[dst // 50 :] == 1234).all(), f"{src}->{dst}"


def test_full_scale_overshoot_clips_instead_of_wrapping() -> None:
    # A full-scale square wave rings past int16 range after low-pass filtering.
    period = 40
    x = np.where(np.arange(8000) % period < period // 2, 32767, -32768).astype(np.int16)
    r = StreamResampler(8000, 16000)
    y = r.process_array(x)
    assert y.max() == 32767
    assert y.min() == -32768
    # Mid-plateau samples (shifted by the delay) keep the input's sign.
    lag = round(r.delay_samples)
    mids = np.arange(2 * period, 8000 - period, period // 2) + period // 4
    assert (np.sign(y[2 * mids + lag]) == np.sign(x[mids].astype(np.int32))).all()


# --- pass-through and errors -----------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 22050, 48000])
def test_equal_rates_pass_through(rate: int) -> None:
    r = StreamResampler(rate, rate)
    data = noise(777).tobytes()
    assert r.process(data) == data
    np.testing.assert_array_equal(r.process_array(noise(5)), noise(5))
    assert r.delay_seconds == 0.0
    assert (r.samples_in, r.samples_out) == (782, 782)


@pytest.mark.parametrize("pair", [(8000, 16000), (16000, 16000)], ids=pair_id)
def test_odd_byte_count_raises(pair: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="even number of bytes"):
        StreamResampler(*pair).process(b"\x00\x01\x02")


@pytest.mark.parametrize("pair", [(0, 8000), (8000, -1)], ids=pair_id)
def test_bad_rates_raise(pair: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        StreamResampler(*pair)


def test_process_array_rejects_wrong_dtype() -> None:
    with pytest.raises(ValueError, match="int16"):
        StreamResampler(8000, 16000).process_array(np.zeros(4, dtype=np.float32))


def test_odd_sized_chunks_leave_no_matrix_behind() -> None:
    """Carrier frames share a few cached matrices; a TTS clause's odd-sized chunks must not
    each leave one (they were up to 24 MB apiece, 64 kept: memory grew with every new length)."""
    from bridge.audio import resample

    rng = np.random.default_rng(3)
    whole = (rng.normal(0, 4000, 22_050)).astype("<i2").tobytes()
    resample._chunk_matrix.cache_clear()
    chunked = StreamResampler(22_050, 8_000)
    sizes = [2 * n for n in (1_001, 1_733, 2_301, 2_799)]  # 360-1020 outputs each
    out = b""
    offset = 0
    for size in sizes:
        out += chunked.process(whole[offset : offset + size])
        offset += size
    assert resample._chunk_matrix.cache_info().currsize == 0
    assert out == StreamResampler(22_050, 8_000).process(whole[:offset])  # the same samples
    frames = StreamResampler(8_000, 16_000)
    for _ in range(50):  # 20 ms carrier frames still take the cached product
        frames.process(bytes(320))
    assert 1 <= resample._chunk_matrix.cache_info().currsize <= 3
