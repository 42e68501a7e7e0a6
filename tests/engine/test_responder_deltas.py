"""A clause's audio goes out in deltas encoded a piece at a time: the same deltas as encoding
it whole (the resampler's state carries), the first one without waiting for the rest."""

from __future__ import annotations

import numpy as np

from bridge.audio import WireEncoder
from bridge.engine.responder import _deltas


def test_pieces_give_the_deltas_of_the_whole() -> None:
    pcm = (np.sin(np.arange(22_050 * 3) / 9) * 9000).astype("<i2").tobytes()  # 3 s at 22.05k
    whole = WireEncoder("pcm16", 24_000, 22_050).encode(pcm)
    delta = 9600  # 200 ms at 24 kHz
    expected = [whole[i : i + delta] for i in range(0, len(whole), delta)]
    pieces = list(_deltas(WireEncoder("pcm16", 24_000, 22_050), pcm, 8820, delta))
    assert pieces == expected
    assert list(_deltas(WireEncoder("pcm16", 24_000, 22_050), b"", 8820, delta)) == []
