from pathlib import Path

import pytest

from bridge.audio.format import AudioFormat
from bridge.carriers.base import CallStarted
from bridge.config import Settings
from bridge.dialplan.check import DialplanInvalid
from bridge.dialplan.routing import DialplanRouter

MEDIA = AudioFormat("pcmu", 8000)


def started(to: str = "", **params: str) -> CallStarted:
    return CallStarted("CA1", MEDIA, to_number=to, parameters=params)


def test_calls_are_routed_by_number_then_parameter_then_default() -> None:
    router = DialplanRouter.from_settings(Settings())
    assert router.select(started("+1 (555) 010-0200")).name == "appointments"
    assert router.select(started("+15559999999")).name == "reception"
    assert router.default is not None


def test_carrier_parameters_route_and_agent_means_no_dialplan(tmp_path: Path) -> None:
    (tmp_path / "vip.yaml").write_text(
        "name: vip\nstart: a\nroute: {parameter: {line: vip}}\nnodes:\n  a: {type: hangup}\n"
    )
    router = DialplanRouter.from_settings(
        Settings(dialplans_dir=str(tmp_path), default_dialplan="agent")
    )
    assert router.select(started(line="vip")).name == "vip"
    assert router.select(started(line="other")) is None  # the LLM agent answers


def test_a_broken_dialplan_stops_start_up_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "name: bad\nstart: a\nnodes:\n  a: {type: hangup, next: b}\n"
    )
    with pytest.raises(DialplanInvalid, match=r"bad\.yaml:4: error"):
        DialplanRouter.from_settings(
            Settings(dialplans_dir=str(tmp_path), default_dialplan="agent")
        )
