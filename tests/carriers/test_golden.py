"""Golden fixtures: every codec against the carriers' own published message examples.

The fixtures in ``fixtures/<carrier>.json`` are written down as each carrier's documentation
shows them (source and any shortening noted beside each message), not produced by our
simulators. Inbound examples go through ``receive()`` and must yield exactly the events
asserted here; outbound messages the codec builds must have the documented shape, compared
as parsed JSON against the documented example with the variable values substituted.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bridge.audio.format import AudioFormat
from bridge.carriers.audiosocket import AudioSocketCodec
from bridge.carriers.base import (
    AudioCleared,
    CallEnded,
    CallStarted,
    DtmfReceived,
    Frame,
    Ignored,
    MarkPlayed,
    MediaReceived,
)
from bridge.carriers.exotel import ExotelCodec
from bridge.carriers.jambonz import JambonzCodec
from bridge.carriers.plivo import PlivoCodec
from bridge.carriers.telnyx import TelnyxCodec
from bridge.carriers.twilio import TwilioCodec, valid_twilio_signature
from bridge.carriers.vonage import VonageCodec

FIXTURES = Path(__file__).parent / "fixtures"
CARRIERS = ("twilio", "telnyx", "plivo", "vonage", "exotel", "jambonz", "audiosocket")
TWO_SAMPLES = b"\x01\x00\xff\xff"  # the fixtures' shortened binary audio: samples 1 and -1


@cache
def fixture_file(carrier: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / f"{carrier}.json").read_text())
    assert isinstance(data, dict)
    return data


def entry(carrier: str, name: str) -> dict[str, Any]:
    message = fixture_file(carrier)["messages"][name]
    assert isinstance(message, dict)
    return message


def frame(carrier: str, name: str) -> Frame:
    """The wire frame of a fixture: JSON text, binary audio, or an AudioSocket chunk."""
    item = entry(carrier, name)
    if "message" in item:
        return json.dumps(item["message"])
    if "binary_hex" in item:
        return bytes.fromhex(item["binary_hex"])
    return bytes.fromhex(item["hex"])


def documented(carrier: str, name: str) -> dict[str, Any]:
    message = entry(carrier, name)["message"]
    assert isinstance(message, dict)
    return json.loads(json.dumps(message))  # a deep copy the test may substitute into


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# --- the fixtures themselves ------------------------------------------------------------


@pytest.mark.parametrize("carrier", CARRIERS)
def test_every_fixture_names_its_documented_source(carrier: str) -> None:
    data = fixture_file(carrier)
    assert data["carrier"] == carrier
    sources = data["sources"]
    assert sources, "a fixture file must say where its examples come from"
    for source in sources.values():
        assert source["url"].startswith("https://")
        assert source["title"]
    for name, item in data["messages"].items():
        assert item["source"] in sources, f"{carrier}/{name} cites an unknown source"
        assert item["direction"] in ("inbound", "outbound", "both", "webhook")
        assert sum(key in item for key in ("message", "binary_hex", "hex")) <= 1


# --- Twilio (and SignalWire) ----------------------------------------------------------

TWILIO_STREAM = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
TWILIO_CALL = "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"


def twilio_started() -> TwilioCodec:
    codec = TwilioCodec()
    assert codec.receive(frame("twilio", "connected")) == [Ignored("connected")]
    assert codec.receive(frame("twilio", "start")) == [
        CallStarted(
            call_id=TWILIO_CALL,
            media=AudioFormat("pcmu", 8000),
            stream_id=TWILIO_STREAM,
            parameters={"FirstName": "Jane", "LastName": "Doe", "RemoteParty": "Bob"},
        )
    ]
    return codec


def test_twilio_documented_inbound_messages() -> None:
    codec = twilio_started()
    assert codec.stream_sid == TWILIO_STREAM
    assert codec.receive(frame("twilio", "media_inbound")) == [MediaReceived(b64("no+JhoaJjpzS"))]
    assert len(b64("no+JhoaJjpzS")) == 9
    # The outbound track (a <Start><Stream> with both tracks) is our own audio: not input.
    assert codec.receive(frame("twilio", "media_outbound_track")) == [Ignored("outbound track")]
    assert codec.receive(frame("twilio", "dtmf")) == [DtmfReceived("1")]
    assert codec.receive(frame("twilio", "mark")) == [MarkPlayed("my label")]
    assert codec.receive(frame("twilio", "stop")) == [CallEnded("stop")]


def test_twilio_outbound_messages_have_the_documented_shape() -> None:
    codec = twilio_started()
    audio = bytes(range(160))
    [media] = codec.media(audio)
    expected = documented("twilio", "send_media")
    expected["media"]["payload"] = base64.b64encode(audio).decode()
    assert json.loads(media) == expected
    assert [json.loads(f) for f in codec.mark("my label")] == [documented("twilio", "send_mark")]
    assert [json.loads(f) for f in codec.clear()] == [documented("twilio", "send_clear")]
    assert codec.hangup() == []  # Twilio documents no in-band hangup


def test_twilio_documented_signature_example() -> None:
    example = entry("twilio", "signature_example")
    args = (example["auth_token"], example["signature"], example["url"], example["params"])
    assert valid_twilio_signature(*args)
    tampered = dict(example["params"], Digits="4321")
    assert not valid_twilio_signature(*args[:3], tampered)


# --- Telnyx ------------------------------------------------------------------------------


def test_telnyx_documented_start_and_stream() -> None:
    codec = TelnyxCodec()
    assert codec.receive(frame("telnyx", "connected")) == [Ignored("connected")]
    assert codec.auth_token is None
    assert codec.receive(frame("telnyx", "start")) == [
        CallStarted(
            call_id="v2:T02llQxIyaRkhfRKxgAP8nY511EhFLizdvdUKJiSw8d6A9BborherQ",
            media=AudioFormat("pcmu", 8000),
            stream_id="32DE0DEA-53CB-4B21-89A4-9E1819C043BC",
            from_number="+13122010094",
            to_number="+13122123456",
            parameters={"customer_id": "customer_123"},
        )
    ]
    assert codec.receive(frame("telnyx", "media")) == [MediaReceived(b64("no+JhoaJjpzSHxAKBgYJ"))]
    assert codec.receive(frame("telnyx", "stop")) == [CallEnded("stop")]


def test_telnyx_documented_legacy_start_with_a_mime_encoding() -> None:
    # Telnyx's older docs show media_format.encoding "audio/x-mulaw": it is PCMU.
    [event] = TelnyxCodec().receive(frame("telnyx", "start_legacy"))
    assert event == CallStarted(
        call_id="v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg",
        media=AudioFormat("pcmu", 8000),
        stream_id="32de0dea-53cb-4b21-89a4-9e1819c043bc",
    )


def test_telnyx_documented_error_frame_is_reported_with_its_details() -> None:
    codec = TelnyxCodec()
    codec.receive(frame("telnyx", "start"))
    assert codec.receive(frame("telnyx", "error")) == [
        Ignored("error 100005 rate_limit_reached: Too many requests")
    ]


def test_telnyx_outbound_media_has_the_documented_shape() -> None:
    codec = TelnyxCodec()
    codec.receive(frame("telnyx", "start"))
    audio = bytes(range(96, 256))
    [media] = codec.media(audio)
    expected = documented("telnyx", "send_media")
    expected["media"]["payload"] = base64.b64encode(audio).decode()
    assert json.loads(media) == expected


# --- Plivo -------------------------------------------------------------------------------

PLIVO_STREAM = "87654321-4321-4321-4321-cba987654321"


def plivo_started() -> PlivoCodec:
    codec = PlivoCodec()
    assert codec.receive(frame("plivo", "start")) == [
        CallStarted(
            call_id="12345678-1234-1234-1234-123456789abc",
            media=AudioFormat("pcmu", 8000),
            stream_id=PLIVO_STREAM,
            parameters={"userId": "12345", "sessionId": "abc-xyz"},
        )
    ]
    return codec


def test_plivo_documented_inbound_messages() -> None:
    codec = plivo_started()
    payload = b64("//uQxAAAAAANIAAAAAExBTUUzLjEwMFV")
    assert len(payload) == 24
    assert codec.receive(frame("plivo", "media")) == [MediaReceived(payload)]
    assert codec.receive(frame("plivo", "dtmf")) == [DtmfReceived("5")]
    assert codec.receive(frame("plivo", "playedStream")) == [MarkPlayed("greeting-complete")]
    assert codec.receive(frame("plivo", "clearedAudio")) == [AudioCleared()]
    # The support articles' variants: the older "played" name, sequenceNumber 0.
    assert codec.receive(frame("plivo", "played_support")) == [
        MarkPlayed("customer greeting audio")
    ]
    assert codec.receive(frame("plivo", "clearedAudio_support")) == [AudioCleared()]


def test_plivo_outbound_messages_have_the_documented_shape() -> None:
    codec = plivo_started()
    audio = bytes(range(96, 256))
    [play] = codec.media(audio)
    expected = documented("plivo", "send_playAudio")
    expected["media"]["payload"] = base64.b64encode(audio).decode()
    assert json.loads(play) == expected
    assert [json.loads(f) for f in codec.mark("greeting-complete")] == [
        documented("plivo", "send_checkpoint")
    ]
    assert [json.loads(f) for f in codec.clear()] == [documented("plivo", "send_clearAudio")]
    assert codec.hangup() == []


# --- Vonage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("connected", {"prop1": "value1", "prop2": "value2"}),
        ("connected_headers", {"language": "en-GB", "callerID": "447700900123"}),
    ],
)
def test_vonage_documented_connected_messages(name: str, headers: dict[str, str]) -> None:
    # The guide's examples carry no call id: that is up to the NCCO's headers.
    assert VonageCodec().receive(frame("vonage", name)) == [
        CallStarted(call_id="", media=AudioFormat("pcm16", 16000), parameters=headers)
    ]


def test_vonage_documented_audio_and_dtmf() -> None:
    codec = VonageCodec()
    codec.receive(frame("vonage", "connected"))
    assert codec.receive(frame("vonage", "audio_16k")) == [MediaReceived(TWO_SAMPLES)]
    assert codec.receive(frame("vonage", "dtmf")) == [DtmfReceived("5", 260)]


def test_vonage_outbound_audio_is_documented_20ms_binary() -> None:
    codec = VonageCodec()
    codec.receive(frame("vonage", "connected"))
    audio = bytes(range(256)) * 2 + bytes(128)  # 640 bytes: 20 ms at 16 kHz
    assert codec.media(audio) == [audio]  # one binary message, 640 bytes, as documented
    assert all(len(f) == 640 for f in codec.media(audio * 3))


# --- Exotel ------------------------------------------------------------------------------

EXOTEL_STREAM = "MZxxxxxxxxxxxxxxxxxxxxxxxx"


def exotel_started() -> ExotelCodec:
    codec = ExotelCodec()
    assert codec.receive(frame("exotel", "connected")) == [Ignored("connected")]
    assert codec.receive(frame("exotel", "start")) == [
        CallStarted(
            call_id="CAxxxxxxxxxxxxxxxxxxxxxxxx",
            media=AudioFormat("pcm16", 8000),
            stream_id=EXOTEL_STREAM,
            from_number="+919876543210",
            to_number="+918047491899",
            parameters={"key1": "value1"},
        )
    ]
    return codec


def test_exotel_documented_inbound_messages() -> None:
    codec = exotel_started()
    assert codec.receive(frame("exotel", "media")) == [MediaReceived(b"\x00\x00\xff\x7f")]
    assert codec.receive(frame("exotel", "dtmf")) == [DtmfReceived("5", 100)]
    assert codec.receive(frame("exotel", "mark")) == [MarkPlayed("greeting-complete")]
    assert codec.receive(frame("exotel", "stop")) == [CallEnded("caller_hangup")]


def test_exotel_repository_start_with_linear16_encoding() -> None:
    codec = ExotelCodec()
    assert codec.receive(frame("exotel", "connected_repo")) == [Ignored("connected")]
    assert codec.receive(frame("exotel", "start_repo")) == [
        CallStarted(
            call_id="abc123",
            media=AudioFormat("pcm16", 8000),
            from_number="+1234567890",
            to_number="+0987654321",
            parameters={"campaign_id": "12345"},
        )
    ]


def test_exotel_outbound_messages_have_the_documented_shape() -> None:
    codec = exotel_started()
    chunk = bytes(range(256)) * 12 + bytes(128)  # 3200 bytes: Exotel's minimum chunk
    [media] = codec.media(chunk)
    expected = documented("exotel", "send_media")
    expected["stream_sid"] = EXOTEL_STREAM
    expected["media"]["payload"] = base64.b64encode(chunk).decode()
    # The documented message also shows sequence/chunk/timestamp counters; what we send
    # is that message without them, every field we do send matching.
    del expected["sequence_number"], expected["media"]["chunk"], expected["media"]["timestamp"]
    assert json.loads(media) == expected

    expected_mark = documented("exotel", "send_mark")
    expected_mark["stream_sid"] = EXOTEL_STREAM
    del expected_mark["sequence_number"]
    assert [json.loads(f) for f in codec.mark("greeting-complete")] == [expected_mark]

    expected_clear = documented("exotel", "send_clear")
    expected_clear["stream_sid"] = EXOTEL_STREAM
    assert [json.loads(f) for f in codec.clear()] == [expected_clear]


# --- jambonz / mod_audio_fork ------------------------------------------------------------


def test_jambonz_documented_metadata_then_binary_audio() -> None:
    codec = JambonzCodec()
    assert codec.receive(frame("jambonz", "metadata_listen")) == [
        CallStarted(
            call_id="b6a4e2f0-0000-4000-8000-000000000001",
            media=AudioFormat("pcm16", 8000),
            from_number="15551230001",
            to_number="15551230002",
            parameters={
                "callSid": "b6a4e2f0-0000-4000-8000-000000000001",
                "direction": "inbound",
                "from": "15551230001",
                "to": "15551230002",
                "customerId": "c-42",
            },
        )
    ]
    assert codec.receive(frame("jambonz", "audio")) == [MediaReceived(TWO_SAMPLES)]


def test_mod_audio_fork_readme_metadata() -> None:
    # Plain mod_audio_fork metadata is whatever the app sent: no sampleRate, no callSid.
    codec = JambonzCodec(default_sample_rate=8000)
    assert codec.receive(frame("jambonz", "metadata_audio_fork")) == [
        CallStarted(
            call_id="",
            media=AudioFormat("pcm16", 8000),
            from_number="2061236666",
            to_number="6173333456",
            parameters={
                "to": "6173333456",
                "from": "2061236666",
                "callid": "a84b4c76e66710@pc33.example.com",
            },
        )
    ]


def test_jambonz_outbound_commands_have_the_documented_shape() -> None:
    codec = JambonzCodec()
    codec.receive(frame("jambonz", "metadata_listen"))
    assert [json.loads(f) for f in codec.clear()] == [documented("jambonz", "send_killAudio")]
    assert [json.loads(f) for f in codec.hangup()] == [documented("jambonz", "send_disconnect")]
    # Bidirectional streaming sends audio as binary frames, not the playAudio command.
    audio = b"\x01\x00\x02\x00"
    assert codec.media(audio) == [audio]


# --- Asterisk AudioSocket ----------------------------------------------------------------


def test_audiosocket_documented_frames() -> None:
    codec = AudioSocketCodec()
    assert codec.receive(frame("audiosocket", "uuid")) == [
        CallStarted(
            call_id="40325ec2-5efd-4bd3-805f-53576e581d13", media=AudioFormat("pcm16", 8000)
        )
    ]
    assert codec.receive(frame("audiosocket", "audio")) == [MediaReceived(TWO_SAMPLES)]
    assert codec.receive(frame("audiosocket", "dtmf")) == [DtmfReceived("5")]
    assert codec.receive(frame("audiosocket", "hangup")) == [CallEnded("hangup")]


def test_audiosocket_documented_error_frame() -> None:
    codec = AudioSocketCodec()
    codec.receive(frame("audiosocket", "uuid"))
    assert codec.receive(frame("audiosocket", "error")) == [
        CallEnded("error 0x01 (hangup of calling party)")
    ]


def test_audiosocket_all_documented_frames_in_one_tcp_chunk() -> None:
    stream = b"".join(
        bytes(frame("audiosocket", name)) for name in ("uuid", "audio", "dtmf", "hangup")
    )
    events = AudioSocketCodec().receive(stream)
    assert [type(e) for e in events] == [CallStarted, MediaReceived, DtmfReceived, CallEnded]


def test_audiosocket_outbound_frames_have_the_documented_layout() -> None:
    codec = AudioSocketCodec()
    assert codec.hangup() == [frame("audiosocket", "hangup")]  # 0x00 0x00 0x00
    audio_frame = frame("audiosocket", "audio")
    assert codec.media(TWO_SAMPLES) == [audio_frame]
    assert isinstance(audio_frame, bytes)
    assert audio_frame[:3] == b"\x10\x00\x04"  # type 0x10, big-endian length 4
