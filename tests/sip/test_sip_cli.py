"""``bridge sip dial`` against a running bridge."""

import asyncio

import pytest
from conftest import RunningBridge

from bridge.cli import main
from bridge.config import Settings


@pytest.fixture
def bridge_settings() -> Settings:
    return Settings(greeting="", sip_port=0, default_dialplan="agent")


async def test_dial_reports_what_the_bridge_says(
    bridge: RunningBridge, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(main, ["sip", "dial", "+15550100", "--url", bridge.url])
    assert code == 1
    assert "BRIDGE_SIP_TRUNK_URI" in capsys.readouterr().err  # no trunk to send a number to


def test_dial_says_when_the_bridge_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sip", "dial", "sip:x@127.0.0.1", "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot reach" in capsys.readouterr().err
