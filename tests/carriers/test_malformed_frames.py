"""One malformed carrier frame is a CarrierProtocolError (the call logs it and goes on), never
another exception that ends a live call. Each case here raised something else before."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bridge.carriers.base import CallStarted, CarrierProtocolError
from bridge.carriers.exotel import ExotelCarrierSide, ExotelCodec
from bridge.carriers.jambonz import JambonzCarrierSide, JambonzCodec
from bridge.carriers.twilio import TwilioCarrierSide, TwilioCodec


def twilio_started() -> TwilioCodec:
    codec = TwilioCodec()
    side = TwilioCarrierSide()
    codec.receive(side.connected())
    assert isinstance(codec.receive(side.start())[0], CallStarted)
    return codec


def twilio(event: str, body: object) -> str:
    return json.dumps({"event": event, "streamSid": "MZ1", event: body})


@pytest.mark.parametrize("event", ["media", "dtmf", "mark"])
@pytest.mark.parametrize("body", ["a string", 7, ["a", "list"], True])
def test_a_twilio_body_that_is_not_an_object_is_a_protocol_error(event: str, body: object) -> None:
    codec = twilio_started()
    with pytest.raises(CarrierProtocolError):
        codec.receive(twilio(event, body))


@pytest.mark.parametrize(
    "start",
    [
        {"streamSid": "MZ1", "mediaFormat": "audio/x-mulaw"},
        {"streamSid": "MZ1", "customParameters": "From=+1555"},
        {"streamSid": "MZ1", "customParameters": ["From", "+1555"]},
    ],
)
def test_a_twilio_start_with_wrongly_typed_parts_is_a_protocol_error(start: object) -> None:
    with pytest.raises(CarrierProtocolError):
        TwilioCodec().receive(json.dumps({"event": "start", "start": start}))


@pytest.mark.parametrize("rate", ["²", "８０００", "٨٠٠٠"])
def test_an_exotel_sample_rate_of_non_ascii_digits_is_a_protocol_error(rate: str) -> None:
    side = ExotelCarrierSide()
    start = json.loads(side.start())
    start["start"]["media_format"]["sample_rate"] = rate
    with pytest.raises(CarrierProtocolError):
        ExotelCodec().receive(json.dumps(start))


def test_an_exotel_dtmf_duration_of_non_ascii_digits_is_ignored() -> None:
    side = ExotelCarrierSide()
    codec = ExotelCodec()
    codec.receive(side.start())
    dtmf = {"event": "dtmf", "stream_sid": side.stream_sid, "dtmf": {"digit": "5", "duration": "²"}}
    (event,) = codec.receive(json.dumps(dtmf))
    assert event.duration_ms is None  # type: ignore[union-attr]


@pytest.mark.parametrize("rate", ["²", "²k", "８k", "٨٠٠٠"])
def test_a_jambonz_sample_rate_of_non_ascii_digits_is_a_protocol_error(rate: str) -> None:
    meta = json.loads(JambonzCarrierSide().start())
    meta["sampleRate"] = rate
    with pytest.raises(CarrierProtocolError):
        JambonzCodec().receive(json.dumps(meta))


@pytest.mark.parametrize(
    "codec_factory", [TwilioCodec, ExotelCodec, JambonzCodec], ids=["twilio", "exotel", "jambonz"]
)
@pytest.mark.parametrize("text", ["[" * 5000, '{"a":' * 5000])
def test_a_deeply_nested_frame_is_a_protocol_error(
    codec_factory: Callable[[], TwilioCodec | ExotelCodec | JambonzCodec], text: str
) -> None:
    with pytest.raises(CarrierProtocolError):
        codec_factory().receive(text)


@pytest.mark.parametrize("digit", ["", "55", "x", "5" * 100_000, 5])
def test_a_twilio_dtmf_digit_that_is_not_one_key_is_a_protocol_error(digit: object) -> None:
    codec = twilio_started()
    with pytest.raises(CarrierProtocolError):
        codec.receive(twilio("dtmf", {"track": "inbound_track", "digit": digit}))


def test_an_audiosocket_frame_behind_a_bad_one_is_read_without_waiting_for_more_bytes() -> None:
    import uuid

    from bridge.carriers.audiosocket import (
        KIND_DTMF,
        KIND_HANGUP,
        KIND_UUID,
        AudioSocketCodec,
        encode_frame,
    )
    from bridge.carriers.base import CallEnded

    codec = AudioSocketCodec()
    codec.receive(encode_frame(KIND_UUID, uuid.UUID(int=1).bytes))
    with pytest.raises(CarrierProtocolError):
        codec.receive(encode_frame(KIND_DTMF, b"xx") + encode_frame(KIND_HANGUP))
    # The hang-up was read with its chunk; it is delivered at the next call (here: none).
    assert codec._reader.pending == 0
    assert codec.receive(b"") == [CallEnded("hangup")]
