"""Streaming sample-rate conversion for 16-bit mono PCM with a causal polyphase FIR.

The ratio dst/src is reduced to L/M. Conceptually the input is upsampled by L (zeros
inserted), low-pass filtered at the upsampled rate and every M-th sample kept; the
polyphase form computes only the kept samples. Output sample ``n`` sits at upsampled index
``n*M`` and uses inputs up to ``floor(n*M/L)``, so it is emitted the moment that input
arrives. After N input samples exactly ``ceil(N*L/M)`` output samples exist in total,
however the input was chunked.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = ["StreamResampler"]

# Filter half-width in input samples is round(DELAY_S * src): a ~4 ms group delay keeps the
# phone path snappy while leaving enough taps for a steep low-pass.
DELAY_S = 0.004
STOPBAND_DB = 70.0
# Kaiser's empirical beta for the stopband attenuation above.
_KAISER_BETA = 0.1102 * (STOPBAND_DB - 8.7)
# Coefficients are stored as integers scaled by 2**_COEF_BITS. With int16 inputs every
# product and every partial sum is then an exact integer in float64 (< 2**53), so the result
# does not depend on summation order: chunked output is bit-identical to one-shot output.
_COEF_BITS = 30
_COEF_SCALE = float(1 << _COEF_BITS)
# Output samples computed per vectorised step: more than a 20 ms frame at 48 kHz, and it
# bounds the temporaries (and the by-output branch table) to a few MB.
_BLOCK = 1024
_SMALL = 1024  # outputs per chunk up to which one matrix product does the work
# ... and cells of that matrix: a carrier frame's is under 0.5 M (48 kHz -> 16 kHz, 20 ms). The
# matrices are cached, so only a stream whose chunks repeat their size (a carrier's frames) uses
# them: one for every odd-sized piece of a TTS clause (up to 24 MB each, 64 kept) was resident
# memory that grew with each new length.
_MATRIX_CELLS = 1 << 19


@dataclass(frozen=True)
class _Design:
    up: int  # L
    down: int  # M
    half_width: int  # K, in input samples; the group delay is K/src seconds
    cutoff_hz: float
    # (L, 2K+1): row p is polyphase branch p, time-reversed so that column -1 multiplies
    # the newest input sample. Integer-valued (see _COEF_BITS), read-only, rows sum to 2**30.
    coeffs: NDArray[np.float64]
    # (L + _BLOCK, 2K+1): row i is the branch used by every output n with n = i (mod L).
    # The branches of any run of up to _BLOCK consecutive outputs are then a plain slice,
    # which is much cheaper per chunk than gathering rows.
    by_output: NDArray[np.float64]


@functools.lru_cache(maxsize=64)
def _design(src_rate: int, dst_rate: int) -> _Design:
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    half_width = max(1, round(DELAY_S * src_rate))
    taps = 2 * half_width + 1
    order = 2 * half_width * up  # prototype length - 1, at the upsampled rate
    centre = half_width * up
    fs_up = float(src_rate * up)

    # Kaiser's length formula solved for the transition width this filter length allows.
    transition_hz = (STOPBAND_DB - 7.95) / (2.285 * order) * fs_up / (2.0 * math.pi)
    nyquist = min(src_rate, dst_rate) / 2.0
    # Put the stopband edge at the lower Nyquist so nothing aliases into the output band;
    # the floor only matters for toy rates too low to fit the transition band.
    cutoff_hz = max(nyquist - transition_hz / 2.0, nyquist / 2.0)

    # Prototype tap k (0..order) of branch p, column j is at k = p + j*L.
    k = np.arange(up, dtype=np.float64)[:, None] + up * np.arange(taps, dtype=np.float64)
    offset = k - centre
    fc = 2.0 * cutoff_hz / fs_up  # normalised to the upsampled Nyquist
    ratio = np.clip(offset / centre, -1.0, 1.0)
    window = np.i0(_KAISER_BETA * np.sqrt(1.0 - ratio * ratio)) / np.i0(_KAISER_BETA)
    proto = np.where(k <= order, fc * np.sinc(fc * offset) * window, 0.0)

    # Unit DC gain per branch: a constant input gives the same constant out, with no
    # ripple at the output rate whichever branch a sample came from.
    branches = proto / proto.sum(axis=1, keepdims=True)
    q = np.rint(branches * _COEF_SCALE)
    # Make each row sum to exactly 2**30 so DC gain is exact after quantisation.
    peak = np.argmax(np.abs(q), axis=1)
    q[np.arange(up), peak] += _COEF_SCALE - q.sum(axis=1)
    # Exactness argument above needs the worst-case accumulator to stay below 2**53.
    assert float(np.abs(q).sum(axis=1).max()) * 32768.0 < 2.0**53

    coeffs = np.ascontiguousarray(q[:, ::-1])
    coeffs.flags.writeable = False
    by_output = coeffs[(np.arange(up + _BLOCK) * down) % up]
    by_output.flags.writeable = False
    return _Design(up, down, half_width, cutoff_hz, coeffs, by_output)


def _positive_int(name: str, value: int) -> int:
    # operator.index accepts numpy integers too, but not floats such as 22050.0.
    try:
        number = operator.index(value)
    except TypeError:
        number = 0
    if number <= 0 or isinstance(value, bool):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return number


class StreamResampler:
    """Resample a stream of 16-bit mono PCM from ``src_rate`` to ``dst_rate`` Hz.

    Filter state is carried across calls, so any chunking gives the same output as one
    call with all the input. A chunk may yield no output samples. Equal rates pass through.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        src_rate = _positive_int("src_rate", src_rate)
        dst_rate = _positive_int("dst_rate", dst_rate)
        self._src = src_rate
        self._dst = dst_rate
        self._design: _Design | None = None if src_rate == dst_rate else _design(src_rate, dst_rate)
        self._history: NDArray[np.float64] = np.zeros(0)
        self._in_total = 0
        self._out_total = 0
        self._last_size = -1  # the previous chunk's length: frames repeat theirs
        self.reset()

    @property
    def src_rate(self) -> int:
        return self._src

    @property
    def dst_rate(self) -> int:
        return self._dst

    @property
    def delay_seconds(self) -> float:
        """Group delay of the filter: output lags input by this much (0 for pass-through)."""
        return 0.0 if self._design is None else self._design.half_width / self._src

    @property
    def delay_samples(self) -> float:
        """The group delay in output-rate samples (may be fractional)."""
        return self.delay_seconds * self._dst

    @property
    def cutoff_hz(self) -> float | None:
        """Low-pass cutoff (-6 dB point) of the filter; None for pass-through."""
        return None if self._design is None else self._design.cutoff_hz

    @property
    def samples_in(self) -> int:
        """Input samples consumed since construction or the last reset()."""
        return self._in_total

    @property
    def samples_out(self) -> int:
        """Output samples produced since construction or the last reset()."""
        return self._out_total

    def reset(self) -> None:
        """Forget all input, as if freshly constructed (e.g. for a new call)."""
        # The stream is taken to be preceded by silence.
        width = 0 if self._design is None else 2 * self._design.half_width
        self._history = np.zeros(width, dtype=np.float64)
        self._in_total = 0
        self._out_total = 0

    def process(self, pcm: bytes) -> bytes:
        """Resample a chunk of 16-bit little-endian PCM bytes."""
        if len(pcm) % 2:
            raise ValueError(
                f"16-bit PCM must have an even number of bytes, got {len(pcm)} "
                "(a chunk was split in the middle of a sample)"
            )
        samples = np.frombuffer(pcm, dtype="<i2")
        if self._design is None:
            self._in_total += samples.size
            self._out_total += samples.size
            return bytes(pcm)
        return self._run(samples).astype("<i2", copy=False).tobytes()

    def skip(self, count: int) -> int:
        """Take ``count`` input samples as silence without filtering them; returns how many
        output samples they become (as many as :meth:`process` would return), all zero. For
        input known to be negligibly quiet: the history is cleared, so the next few output
        samples differ from a filtered result by at most the skipped input's level."""
        self._in_total += count
        if self._design is None:
            self._out_total += count
            return count
        design = self._design
        out_total = -(-self._in_total * design.up // design.down)
        produced, self._out_total = out_total - self._out_total, out_total
        self._history[:] = 0.0
        return produced

    def process_array(self, samples: NDArray[np.int16]) -> NDArray[np.int16]:
        """Resample a 1-D int16 array; returns a new int16 array."""
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError(
                f"expected a 1-D int16 array, got {samples.ndim}-D {samples.dtype} array"
            )
        if self._design is None:
            self._in_total += samples.size
            self._out_total += samples.size
            return samples.copy()
        return self._run(samples)

    def _run(self, samples: NDArray[np.int16]) -> NDArray[np.int16]:
        design = self._design
        assert design is not None
        up, down = design.up, design.down
        in_total = self._in_total + samples.size
        # ceil(N*L/M) outputs exist once N inputs have arrived.
        out_total = -(-in_total * up // down)
        count = out_total - self._out_total
        buf = np.concatenate((self._history, samples.astype(np.float64)))
        out: NDArray[np.int16]

        if count > 0:
            # Output n's newest input is floor(n*M/L); relative to this chunk, that is
            # (n*M - in_before*L) // L, which is also where its window starts in buf (buf[0]
            # is the oldest history sample).
            base = self._out_total * down - self._in_total * up  # in [0, M)
            first = self._out_total % up
            steady = samples.size == self._last_size
            if steady and count <= _SMALL and count * buf.size <= _MATRIX_CELLS:
                # A carrier frame: one product with a matrix made once per chunk shape. The
                # sums are of integers, exact in float64, so the result is the same as below.
                acc = _chunk_matrix(self._src, self._dst, buf.size, count, base, first) @ buf
            else:
                acc = self._windowed(buf, count, base)
            out = np.clip(np.rint(acc / _COEF_SCALE), -32768, 32767).astype(np.int16)
        else:
            out = np.zeros(0, dtype=np.int16)

        self._history = buf[buf.size - self._history.size :].copy()
        self._last_size = samples.size
        self._in_total = in_total
        self._out_total = out_total
        return out

    def _windowed(self, buf: NDArray[np.float64], count: int, base: int) -> NDArray[np.float64]:
        design = self._design
        assert design is not None
        starts = _starts(design, count, base)
        windows = sliding_window_view(buf, design.coeffs.shape[1])
        acc = np.empty(count, dtype=np.float64)
        # Blocks bound the temporaries when one call carries a lot of audio.
        for lo in range(0, count, _BLOCK):
            hi = min(lo + _BLOCK, count)
            first = (self._out_total + lo) % design.up
            branches = design.by_output[first : first + hi - lo]
            acc[lo:hi] = np.einsum("ij,ij->i", windows[starts[lo:hi]], branches)
        return acc


def _starts(design: _Design, count: int, base: int) -> NDArray[np.int64]:
    return (base + design.down * np.arange(count, dtype=np.int64)) // design.up


@functools.lru_cache(maxsize=64)
def _chunk_matrix(
    src_rate: int, dst_rate: int, size: int, count: int, base: int, first: int
) -> NDArray[np.float64]:
    """Row n holds output n's filter branch where its window sits in the buffer. Shared by all
    streams: a phone stream of 20 ms frames needs one to three of these."""
    design = _design(src_rate, dst_rate)
    taps = design.coeffs.shape[1]
    matrix = np.zeros((count, size), dtype=np.float64)
    for n, start in enumerate(_starts(design, count, base)):
        matrix[n, start : start + taps] = design.by_output[first + n]
    matrix.flags.writeable = False
    return matrix
