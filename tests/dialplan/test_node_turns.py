"""A dialplan node's own turn detection: a menu that ends turns eagerly, an agent on plain
silence, and every other node on the call's (``BRIDGE_TURN_DETECTION``)."""

from __future__ import annotations

from call_harness import eventually, phone_call, settings, virtual
from test_interpreter_fast import flow

from bridge.config import Settings
from bridge.dialplan.check import check_text
from bridge.dialplan.schema import TurnDetection
from bridge.dialplan.turns import detection_for
from bridge.engine.config import SemanticVad, ServerVad
from bridge.testing.fakes import Fakes

PLAN = """
name: turns-test
start: menu
nodes:
  menu:
    type: menu
    prompt: Say sales or support.
    timeout_s: 30
    turn_detection: {type: semantic_vad, eagerness: high}
    options:
      - {phrases: [sales], goto: agent}
  agent:
    type: agent
    instructions: Help with sales.
    turn_detection: {type: server_vad, silence_ms: 900}
"""


def test_the_call_default_and_a_node_choice() -> None:
    vad = Settings().vad
    assert detection_for(vad, None) == SemanticVad(eagerness="auto")
    off = Settings(turn_detection="server_vad", vad_silence_ms=700).vad
    assert detection_for(off, None) == ServerVad(silence_duration_ms=700)
    choice = TurnDetection(type="server_vad", silence_ms=1200)
    assert detection_for(vad, choice, create_response=False) == ServerVad(
        silence_duration_ms=1200, create_response=False
    )
    eager = TurnDetection(type="semantic_vad", eagerness="high")
    assert detection_for(off, eager) == SemanticVad(eagerness="high")


def test_a_bad_choice_is_a_dialplan_error() -> None:
    bad = PLAN.replace("eagerness: high", "eagerness: eager")
    plan, problems = check_text(bad, "bad.yaml")
    assert plan is None
    assert any("eagerness" in p.message for p in problems)


@virtual
async def test_each_listening_node_uses_its_own_turn_detection() -> None:
    fakes = Fakes()
    fakes.stt.transcripts.append("Sales, please.")
    async with phone_call(fakes, settings(), controller=flow(PLAN)) as line:
        session = line.call.session
        assert session is not None
        await eventually(
            lambda: (
                session.config.turn_detection
                == SemanticVad(eagerness="high", create_response=False)
            )
        )
        await line.phone.speak(400, silence_ms=600)
        await eventually(lambda: isinstance(session.config.turn_detection, ServerVad))
        detection = session.config.turn_detection
        assert isinstance(detection, ServerVad)
        assert detection.silence_duration_ms == 900
        assert detection.create_response
