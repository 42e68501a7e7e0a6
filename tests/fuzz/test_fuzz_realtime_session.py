"""The /v1/realtime WebSocket fuzzed end to end: a served bridge, the real LocalConversation
behind it, fake models (``bridge/testing/fakes.py``). ``test_fuzz_realtime.py`` proves the
parser on a stub engine; this proves that what gets past the parser cannot break a live
session, and that garbage on a real socket is answered, not fatal.

Each frame is followed by a probe (retrieving an item that does not exist, with an
``event_id``): frames are handled in order, so once the probe's ``error`` arrives everything
the frame caused synchronously has been sent. Two kinds of frame:

- **garbage by construction** (cut-short JSON, nesting past the depth limit, no or an unknown
  event type, a top-level value that is not an object, the event's body of the wrong type, a
  binary frame): each must get exactly one ``error`` event before its probe's;
- **seeded mutations** of valid client events of the dialect (wrong types, huge numbers and
  strings, dropped fields, garbled text): whatever they do, the session must answer the probe.

Throughout, no ``server_error`` may appear (an engine crash reported as ``engine_error``), and
after every batch a valid turn (reset the session, a user message, ``response.create``) must
complete with the fake LLM's echo of that message.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from fuzz_profiles import PROFILE, Counter, json_variants
from test_fuzz_realtime import TEMPLATES

from bridge.app import create_app
from bridge.config import Settings
from bridge.realtime.dialect import Dialect
from bridge.testing.fakes import fake_engines
from bridge.testing.serve import serve_app

FRAMES = {"ci": 2_000, "long": 40_000}[PROFILE]  # per dialect: about 4 s on two cores in ci
BATCH = 50  # frames between two valid turns
# Frames per session: mutated conversation.item.create frames fill a conversation at about one
# item in five frames, and a full one (4,096 items, bridge/engine/history.py) refuses the valid
# turn by design.
SESSION_FRAMES = 2_000
WAIT_S = 10.0  # the longest any one answer may take (a loaded CI machine)
SUBPROTOCOLS = {Dialect.GA: ["realtime"], Dialect.BETA: ["realtime", "openai-beta.realtime-v1"]}

RESET = {
    Dialect.GA: {
        "type": "realtime",
        "instructions": "Be brief.",
        "output_modalities": ["audio"],
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "audio": {"input": {"turn_detection": None}},
    },
    Dialect.BETA: {
        "instructions": "Be brief.",
        "modalities": ["audio", "text"],
        "tools": [],
        "tool_choice": "auto",
        "max_response_output_tokens": "inf",
        "turn_detection": None,
    },
}


def garbage(document: dict[str, Any], rng: random.Random) -> str | bytes:
    """A frame made from ``document`` that no session state can make valid."""
    text = json.dumps(document)
    how = rng.randrange(7)
    if how == 0:
        return text[: rng.randrange(len(text))]  # a proper prefix of an object is not JSON
    if how == 1:
        deep = "[" * rng.choice([65, 300, 5000])
        return rng.choice([deep, text[:-1] + ', "x": ' + deep + "]" * (len(deep) // 2) + "}"])
    if how == 2:
        return json.dumps(document | {"type": rng.choice([None, 5, [], {}, "", "no.such.event"])})
    if how == 3:
        return json.dumps({k: v for k, v in document.items() if k != "type"})
    if how == 4:
        return json.dumps(rng.choice([[document], "session.update", 5, None, True, []]))
    if how == 5:  # the event's body of the wrong type
        wrong = rng.choice([5, "x", [1], True])
        if document["type"] == "conversation.item.create":
            return json.dumps(document | {"item": wrong})
        return json.dumps({"type": "session.update", "session": wrong})
    return text.encode()


def frames(dialect: Dialect, seed: int) -> list[tuple[str | bytes, bool]]:
    """``(frame, is_garbage)`` pairs, half of each kind, in a seeded order."""
    rng = random.Random(seed)
    templates = [
        t for t in TEMPLATES[dialect] if t["type"] != "transcription_session.update"
    ]  # beta cannot leave a transcription session: the valid turn would be refused
    out: list[tuple[str | bytes, bool]] = []
    while len(out) < FRAMES:
        document = rng.choice(templates)
        if rng.random() < 0.5:
            out.append((garbage(document, rng), True))
        else:
            for frame in json_variants(document, rng.randrange(2**32), count=4):
                if "transcription_session.update" not in frame:
                    out.append((frame, False))
    return out[:FRAMES]


def is_error(event: dict[str, Any]) -> bool:
    return event["type"] == "error"


class Session:
    """The client side of one fuzzed session: sends frames, reads until a marker arrives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.probes = 0
        self.server_errors: list[dict[str, Any]] = []

    async def until(self, done: Any) -> list[dict[str, Any]]:
        """Events received until one satisfies ``done`` (that one included)."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(WAIT_S):
            while True:
                event = json.loads(await self.ws.recv())
                seen.append(event)
                if event["type"] == "error" and event["error"]["type"] == "server_error":
                    self.server_errors.append(event)
                if done(event):
                    return seen

    async def errors_for(self, frame: str | bytes) -> list[dict[str, Any]]:
        """The ``error`` events ``frame`` got (those sent before its probe was answered)."""
        self.probes += 1
        probe = f"probe_{self.probes}"
        await self.ws.send(frame)
        retrieve = {"type": "conversation.item.retrieve", "item_id": "no_such_item"}
        await self.ws.send(json.dumps(retrieve | {"event_id": probe}))
        seen = await self.until(
            lambda e: e["type"] == "error" and e["error"].get("event_id") == probe
        )
        return [e for e in seen[:-1] if is_error(e) and e["error"]["type"] != "server_error"]

    async def valid_turn(self, dialect: Dialect, n: int) -> None:
        await self.ws.send(json.dumps({"type": "session.update", "session": RESET[dialect]}))
        await self.ws.send(json.dumps({"type": "response.cancel"}))  # one a frame may have begun
        message = {"type": "message", "role": "user"}
        message["content"] = [{"type": "input_text", "text": f"valid turn {n}"}]  # type: ignore[assignment]
        await self.ws.send(json.dumps({"type": "conversation.item.create", "item": message}))
        for attempt in range(3):  # a cancelled response may still be finishing
            create = f"turn_{n}_{attempt}"
            await self.ws.send(json.dumps({"type": "response.create", "event_id": create}))

            def answered(e: dict[str, Any], create: str = create) -> bool:
                refused = e["type"] == "error" and e["error"].get("event_id") == create
                mine = e["type"] == "response.done" and f"valid turn {n}" in json.dumps(e)
                return refused or mine

            for _ in range(5):  # response.done events of cancelled responses come first
                seen = await self.until(lambda e: answered(e) or e["type"] == "response.done")
                if answered(seen[-1]):
                    break
            last = seen[-1]
            if last["type"] == "response.done":
                assert last["response"]["status"] == "completed", last
                assert f"You said: valid turn {n}" in json.dumps(last), last
                return
        raise AssertionError(f"valid turn {n} was refused three times: {last}")


@pytest.fixture
async def bridge_url() -> AsyncIterator[str]:
    app = create_app(Settings(api_keys=[]), engines=fake_engines())
    async with serve_app(app) as url:
        yield url.replace("http://", "ws://") + "/v1/realtime?model=fuzz"


@pytest.mark.slow
@pytest.mark.parametrize("dialect", list(Dialect))
async def test_garbage_on_a_live_session_gets_error_events_and_the_session_keeps_working(
    bridge_url: str, dialect: Dialect
) -> None:
    counter = Counter()
    sent = frames(dialect, seed=16)
    server_errors: list[dict[str, Any]] = []
    for start in range(0, FRAMES, SESSION_FRAMES):  # a session per SESSION_FRAMES frames
        async with websockets.connect(
            bridge_url,
            subprotocols=SUBPROTOCOLS[dialect],
            max_size=None,  # type: ignore[arg-type]
        ) as ws:
            session = Session(ws)
            await session.until(lambda e: e["type"] == "session.created")
            await session.valid_turn(dialect, start)
            for index in range(start, min(start + SESSION_FRAMES, FRAMES)):
                frame, is_garbage = sent[index]
                counter()
                errors = await session.errors_for(frame)
                if is_garbage:
                    assert len(errors) == 1, (frame[:300], errors)
                else:
                    assert len(errors) <= 1, (frame[:300], errors)
                if index % BATCH == BATCH - 1:
                    await session.valid_turn(dialect, index + 1)
            await session.valid_turn(dialect, FRAMES + start)
            server_errors += session.server_errors
    assert server_errors == []
    counter.check(FRAMES)
