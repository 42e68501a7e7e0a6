"""Paced audio and marks as a carrier's frames."""

from __future__ import annotations

from bridge.carriers.base import CarrierCodec, Frame
from bridge.media.pacer import AudioFrame, Outgoing


def carrier_frames(codec: CarrierCodec, items: list[Outgoing]) -> list[Frame]:
    """Carrier frames for paced audio and marks; consecutive audio frames go as one message
    where the carrier takes that (each message costs the event loop more than its audio)."""
    joins = bool(getattr(codec, "joins_frames", False))
    frames: list[Frame] = []
    joined = bytearray()
    for item in items:
        if isinstance(item, AudioFrame) and joins:
            joined += item
            continue
        if joined:
            frames += codec.media(bytes(joined))
            joined.clear()
        if isinstance(item, AudioFrame):
            frames += codec.media(item)
        else:
            frames += codec.mark(item.name)
    if joined:
        frames += codec.media(bytes(joined))
    return frames
