"""Every carrier's messages at every stage of a call through its codec's ``receive()``: a
frame is a list of call events or a CarrierProtocolError (which the call logs and skips),
never another exception.

Inputs: each carrier's own documented inbound messages (``tests/carriers/fixtures``), sent
before the call has started and after, then seeded mutations of them (fields of the wrong
type, huge or non-ASCII numbers, dropped keys, deep nesting, cut and garbled text) and, for
carriers with binary audio, arbitrary bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fuzz_profiles import FUZZ, Counter, json_variants
from hypothesis import given
from hypothesis import strategies as st

from bridge.carriers.base import CarrierCodec, CarrierProtocolError
from bridge.carriers.exotel import ExotelCodec
from bridge.carriers.jambonz import JambonzCodec
from bridge.carriers.plivo import PlivoCodec
from bridge.carriers.telnyx import TelnyxCodec
from bridge.carriers.twilio import TwilioCodec
from bridge.carriers.vonage import VonageCodec

FIXTURES = Path(__file__).resolve().parent.parent / "carriers" / "fixtures"
CODECS: dict[str, Callable[[], CarrierCodec]] = {
    "twilio": TwilioCodec,
    "telnyx": TelnyxCodec,
    "plivo": PlivoCodec,
    "vonage": VonageCodec,
    "exotel": ExotelCodec,
    "jambonz": JambonzCodec,
}
# The message that starts a call, per carrier (a codec needs it before audio makes sense).
OPENING = {
    "twilio": "start",
    "telnyx": "start",
    "plivo": "start",
    "vonage": "connected",
    "exotel": "start",
    "jambonz": "metadata_listen",
}
BINARY = {"vonage", "jambonz"}


def inbound(carrier: str) -> dict[str, Any]:
    messages = json.loads((FIXTURES / f"{carrier}.json").read_text())["messages"]
    return {
        name: entry["message"]
        for name, entry in messages.items()
        if entry.get("direction") in ("inbound", "both") and "message" in entry
    }


def receive(codec: CarrierCodec, frame: str | bytes) -> None:
    try:
        events = codec.receive(frame)
    except CarrierProtocolError:
        return
    assert isinstance(events, list)


@pytest.mark.parametrize("carrier", sorted(CODECS))
def test_every_carrier_frame_is_events_or_a_protocol_error(carrier: str) -> None:
    counter = Counter()
    messages = inbound(carrier)
    opening = json.dumps(messages[OPENING[carrier]])

    @FUZZ
    @given(
        name=st.sampled_from(sorted(messages)),
        seed=st.integers(0, 2**32),
        started=st.booleans(),
        audio=st.binary(max_size=700) if carrier in BINARY else st.just(b""),
    )
    def fuzz(name: str, seed: int, started: bool, audio: bytes) -> None:
        codec = CODECS[carrier]()
        if started:
            codec.receive(opening)
        for frame in json_variants(messages[name], seed):
            counter()
            receive(codec, frame)
        if audio:
            counter()
            receive(codec, audio)

    fuzz()
    counter.check()
