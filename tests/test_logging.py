import asyncio
import io
import json

from bridge.logging import bind_call, configure_logging, get_logger


async def test_json_lines_carry_the_bound_call_id_in_child_tasks_too() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    log = get_logger("test")

    async def child() -> None:
        log.info("media started", frames=3)

    with bind_call(call_id="CA123"):
        log.info("call answered")
        await asyncio.create_task(child())
    log.info("after the call")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["call answered", "media started", "after the call"]
    assert [line.get("call_id") for line in lines] == ["CA123", "CA123", None]
    assert lines[1]["frames"] == 3
    assert lines[0]["level"] == "info"


def test_console_format_is_human_readable() -> None:
    out = io.StringIO()
    configure_logging("debug", "console", stream=out)
    with bind_call(session_id="sess_1"):
        get_logger("test").debug("hello")
    text = out.getvalue()
    assert "hello" in text
    assert "session_id=sess_1" in text
    assert not text.lstrip().startswith("{")
