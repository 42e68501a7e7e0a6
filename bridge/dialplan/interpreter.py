"""Runs a dialplan on a call: walks the nodes, speaks, listens, branches and hands over.

The interpreter drives a :class:`~bridge.calls.call.Call` through a few verbs (say and wait,
collect digits or speech, record, transfer, hang up, run the LLM agent) and keeps the call's
variables. Time comes from an injected clock, so business hours are testable.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bridge.calls.call import Call
from bridge.calls.control import ControlFailed, ControlUnsupported
from bridge.calls.tools import BUILTIN_TOOLS
from bridge.dialplan import expressions, hours
from bridge.dialplan.agent_tools import agent_tools
from bridge.dialplan.answers import Answer, collect_options, mentions
from bridge.dialplan.prompts import PromptError, prompt_audio
from bridge.dialplan.recording import capture_recording, save_recording
from bridge.dialplan.schema import (
    Agent,
    Branch,
    Dialplan,
    Gather,
    Hangup,
    Hours,
    Http,
    Menu,
    Record,
    Say,
    SetVariables,
    Transfer,
    TurnDetection,
)
from bridge.dialplan.template import lookup, render, render_value
from bridge.dialplan.turns import detection_for
from bridge.dialplan.waiting import first_done
from bridge.dialplan.webhooks import WebhookError, call_webhook
from bridge.engine import events as ev
from bridge.engine.config import FunctionTool, InputTranscription
from bridge.engine.conversation import Conversation
from bridge.logging import get_logger

log = get_logger("bridge.dialplan")
MAX_STEPS = 500  # a dialplan that loops forever still ends


class Interpreter:
    def __init__(
        self,
        plan: Dialplan,
        call: Call,
        *,
        variables: dict[str, Any] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        recordings: Path = Path("recordings"),
    ) -> None:
        self.plan = plan
        self.call = call
        self.variables: dict[str, Any] = {**plan.variables, **(variables or {})}
        self.visited: list[str] = []
        self._transferred = False
        self._now = now
        self._recordings = recordings
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._speech: asyncio.Queue[str] = asyncio.Queue()
        self._speech_started = asyncio.Event()
        self._response_done = asyncio.Event()
        self._last_status = ""
        self._saying = False
        self._barge_in = True
        self._turn: TurnDetection | None = None  # the listening node's choice, if it made one
        self._agent_exit: asyncio.Future[str | None] | None = None
        self._agent_turns = 0
        call.hooks.on_dtmf.append(self._on_digit)
        call.hooks.on_event.append(self._on_event)
        call.answer_digits = False

    # --- events from the call ----------------------------------------------------------

    def _on_digit(self, digit: str) -> None:
        if self._agent_exit is not None:
            return  # the agent hears digits as text through the call itself
        self._digits.put_nowait(digit)
        if self._saying and self._barge_in:
            self.call.interrupt_playback()

    def _on_event(self, event: ev.EngineEvent) -> None:
        if isinstance(event, ev.InputAudioTranscriptionCompleted) and event.transcript.strip():
            if self._agent_exit is None:  # the agent hears the caller itself
                self._speech.put_nowait(event.transcript.strip())
        elif isinstance(event, ev.InputAudioBufferSpeechStarted):
            self._speech_started.set()
        elif isinstance(event, ev.ResponseDone):
            self._last_status = event.response.status
            self._response_done.set()
            if self._agent_exit is not None:
                self._agent_turns += 1

    # --- the walk ----------------------------------------------------------------------

    async def run(self) -> None:
        node_name: str | None = self.plan.start
        steps = 0
        while node_name is not None and steps < MAX_STEPS:
            steps += 1
            self.visited.append(node_name)
            node = self.plan.nodes[node_name]
            log.info("dialplan node", node=node_name, type=node.type)
            node_name = await self._run_node(node)
        if steps >= MAX_STEPS:
            log.warning("dialplan stopped after too many steps", steps=steps)
        if not self._transferred:  # a transferred call belongs to its new party now
            await self.call.control.hangup()

    async def _run_node(self, node: Any) -> str | None:
        if isinstance(node, Say):
            if node.audio:
                await self._play_file(render(node.audio, self.variables))
            else:
                await self.say(node.text, node.barge_in)
            return node.next
        if isinstance(node, Gather):
            return await self._gather(node)
        if isinstance(node, Menu):
            return await self._menu(node)
        if isinstance(node, Branch):
            for condition in node.conditions:
                if expressions.evaluate(condition.if_, self.variables):
                    return condition.goto
            return node.default
        if isinstance(node, Hours):
            is_open = hours.is_open(node.open, node.holidays, node.timezone, self._now())
            return node.open_goto if is_open else node.closed_goto
        if isinstance(node, SetVariables):
            for key, value in node.values.items():
                self.variables[key] = render_value(value, self.variables)
            return node.next
        if isinstance(node, Http):
            return await self._http(node)
        if isinstance(node, Transfer):
            return await self._transfer(node)
        if isinstance(node, Hangup):
            await self.say(node.text, barge_in=False)  # nothing to say: returns at once
            return None
        if isinstance(node, Record):
            return await self._record(node)
        assert isinstance(node, Agent)
        return await self._agent(node)

    async def _transfer(self, node: Transfer) -> str | None:
        """Hand the call over; when that cannot be done, say so and carry on (``on_error``,
        else back to where the caller chose this, else hang up)."""
        await self.say(node.text, barge_in=False)  # nothing to say: returns at once
        target = render(node.target, self.variables)
        try:
            await self.call.control.transfer(target)
        except (ControlUnsupported, ControlFailed) as exc:
            name = self.visited[-1] if self.visited else ""
            log.warning("transfer failed", node=name, target=target, error=str(exc))
            self.variables["transfer_error"] = str(exc)
            await self.say(node.error_text, barge_in=False)
            return node.on_error if node.on_error is not None else self._came_from()
        self._transferred = True
        return None

    def _came_from(self) -> str | None:
        """The last node before this one where the caller chose (menu, gather or agent)."""
        for name in reversed(self.visited[:-1]):
            if isinstance(self.plan.nodes[name], Menu | Gather | Agent):
                return name
        return None

    # --- speaking and listening --------------------------------------------------------

    async def say(self, text: str, barge_in: bool = True) -> bool:
        """Speak ``text`` and wait until it has played; True when the caller cut it short."""
        text = render(text, self.variables).strip()
        if not text:
            return False
        session = self._local_session()
        self._barge_in = barge_in
        self._set_interruptible(barge_in)
        self._response_done.clear()
        self._saying = True
        try:
            session.say(text)
            await self._response_done.wait()
            if self._last_status == "cancelled":
                return True
            await self.call.drained()
            return False
        finally:
            self._saying = False

    async def _play_file(self, path: str) -> None:
        try:
            audio = await prompt_audio(path, self.call.media_format)
        except PromptError as exc:
            log.warning("cannot play audio file", path=path, error=str(exc))
            return
        await self.call.play_wire(audio)

    async def collect(
        self,
        mode: str,
        timeout_s: float,
        *,
        digits: int | None = None,
        finish_key: str | None = "#",
        inter_digit_timeout_s: float = 3.0,
    ) -> Answer | None:
        """Keyed digits or an utterance, whichever comes first (None: nothing in time)."""
        keyed: list[str] = []
        want_dtmf, want_speech = mode in ("dtmf", "both"), mode in ("speech", "both")
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            waits: dict[str, asyncio.Task[Any]] = {}
            if want_dtmf:
                waits["dtmf"] = asyncio.create_task(self._digits.get())
            if want_speech:
                waits["speech"] = asyncio.create_task(self._speech.get())
                waits["talking"] = asyncio.create_task(self._speech_started.wait())
            remaining = deadline - asyncio.get_running_loop().time()
            done = await first_done(list(waits.values()), max(0.0, remaining))
            finished = {name for name, task in waits.items() if task in done}
            if "speech" in finished:
                return Answer("speech", waits["speech"].result())
            if "dtmf" in finished:
                digit = waits["dtmf"].result()
                if finish_key and digit == finish_key:
                    return Answer("dtmf", "".join(keyed)) if keyed else Answer("dtmf", digit)
                keyed.append(digit)
                if digits is not None and len(keyed) >= digits:
                    return Answer("dtmf", "".join(keyed))
                deadline = asyncio.get_running_loop().time() + inter_digit_timeout_s
                want_speech = False  # typing has begun: wait for keys only
                continue
            if "talking" in finished:
                # The caller is speaking: give the turn time to end and be transcribed.
                self._speech_started.clear()
                deadline = max(deadline, asyncio.get_running_loop().time() + 15.0)
                continue
            # Stopped typing: take what we have.
            return Answer("dtmf", "".join(keyed)) if keyed else None

    def _clear_inputs(self) -> None:
        for queue in (self._digits, self._speech):
            while not queue.empty():
                queue.get_nowait()
        self._speech_started.clear()

    async def _prompted(
        self, node: Gather | Menu, accept: Callable[[Answer], str | None]
    ) -> str | None:
        """Prompt, listen, retry with escalating prompts, then fall back (or hang up)."""
        failures = {"no_input": 0, "no_match": 0}
        self._clear_inputs()
        if node.turn_detection != self._turn:  # this node listens its own way
            self._turn = node.turn_detection
            self.enter_dialplan_mode()
        await self.say(node.prompt, node.barge_in)
        for attempt in range(node.retries + 1):
            answer = await self.collect(node.input, node.timeout_s, **collect_options(node))
            if answer is not None:
                target = self._global_target(answer) or accept(answer)
                if target is not None:
                    return target
            if attempt == node.retries:
                break
            kind = "no_input" if answer is None else "no_match"
            failures[kind] += 1
            prompts = node.no_input if kind == "no_input" else node.no_match
            # Escalate: each failure says the next, more explicit prompt (the last repeats).
            text = prompts[min(failures[kind], len(prompts)) - 1] if prompts else node.prompt
            await self.say(text, node.barge_in)
        return node.fallback

    async def _gather(self, node: Gather) -> str | None:
        def accept(answer: Answer) -> str | None:
            value = answer.value.strip()
            if answer.kind == "speech":
                value = re.sub(r"[.?!,]+$", "", value)
            if node.pattern and not re.fullmatch(node.pattern, value):
                return None
            self.variables[node.variable] = value
            self.variables[f"{node.variable}_via"] = answer.kind
            return node.next

        return await self._prompted(node, accept)

    async def _menu(self, node: Menu) -> str | None:
        def accept(answer: Answer) -> str | None:
            for option in node.options:
                if answer.kind == "dtmf" and option.keys and answer.value == option.keys:
                    return option.goto
                if answer.kind == "speech" and mentions(answer.value, option.phrases):
                    return option.goto
            return None

        return await self._prompted(node, accept)

    def _global_target(self, answer: Answer) -> str | None:
        for handler in self.plan.globals:
            if answer.kind == "dtmf" and handler.keys and answer.value == handler.keys:
                return handler.goto
            if answer.kind == "speech" and mentions(answer.value, handler.phrases):
                return handler.goto
        return None

    # --- webhooks, recording, the agent ------------------------------------------------

    async def _http(self, node: Http) -> str:
        try:
            result = await call_webhook(
                render(node.url, self.variables),
                node.method,
                {k: render(v, self.variables) for k, v in node.headers.items()},
                render_value(node.body, self.variables),
                node.timeout_s,
                max_depth=self.call.settings.max_json_depth,
            )
        except WebhookError as exc:
            log.warning("dialplan webhook failed", url=node.url, error=str(exc))
            self.variables["http_error"] = str(exc)
            return node.on_error
        for variable, path in node.save.items():
            self.variables[variable] = lookup(result, path) if isinstance(result, dict) else None
        return node.next

    async def _record(self, node: Record) -> str:
        await self.say(node.prompt, barge_in=False)
        media = self.call.started.media if self.call.started else None
        assert media is not None
        audio = await capture_recording(self.call, node.silence_s, node.max_s, media)
        path = save_recording(
            self._recordings,
            audio,
            media.sample_rate,
            self.call.started,
            self.plan.name,
            self._now(),
        )
        self.variables[node.variable] = str(path)
        return node.next

    async def _agent(self, node: Agent) -> str | None:
        session = self._local_session()
        loop = asyncio.get_running_loop()
        self._agent_exit = loop.create_future()
        self._agent_turns = 0
        extra = self._agent_tools(node)
        before = session.config
        tools = (*BUILTIN_TOOLS, *(tool for tool, _ in extra.values()))
        detection = detection_for(self.call.settings.vad, node.turn_detection)
        session.reconfigure(
            replace(
                before,
                instructions=render(node.instructions, self.variables) or before.instructions,
                tools=tools,
                turn_detection=detection,
            )
        )
        for name, (_, handler) in extra.items():
            self.call.tool_handlers[name] = handler
        self.call.answer_digits = True
        try:
            if node.greeting:
                session.say(render(node.greeting, self.variables))
            done_turns = asyncio.create_task(self._turns_reached(node.max_turns))
            await first_done([done_turns], None, also=self._agent_exit)
            target = self._agent_exit.result() if self._agent_exit.done() else node.next
            await self.call.drained()
            return target
        finally:
            self._agent_exit = None
            for name in extra:
                self.call.tool_handlers.pop(name, None)
            self.call.answer_digits = False
            session.reconfigure(self._dialplan_config(before))

    async def _turns_reached(self, count: int) -> None:
        while self._agent_turns < count:
            self._response_done.clear()
            await self._response_done.wait()
        await self.call.drained()

    def _agent_tools(self, node: Agent) -> dict[str, tuple[FunctionTool, Any]]:
        return agent_tools(
            node, self.variables, self._exit_agent, self.call.settings.max_json_depth
        )

    def _exit_agent(self, target: str) -> None:
        if self._agent_exit is not None and not self._agent_exit.done():
            self._agent_exit.set_result(target)

    # --- session modes -----------------------------------------------------------------

    def _local_session(self) -> Conversation:
        session = self.call.session
        if session is None:
            raise RuntimeError("the call has no conversation yet")
        return session

    def _dialplan_config(self, config: Any) -> Any:
        """Listen and transcribe, but never answer on its own: the dialplan speaks."""
        detection = detection_for(
            self.call.settings.vad,
            self._turn,
            create_response=False,
            interrupt_response=self._barge_in,
        )
        return replace(
            config, turn_detection=detection, input_transcription=InputTranscription(), tools=()
        )

    def enter_dialplan_mode(self) -> None:
        session = self._local_session()
        session.reconfigure(self._dialplan_config(session.config))

    def _set_interruptible(self, barge_in: bool) -> None:
        session = self._local_session()
        detection = session.config.turn_detection
        if detection is not None and detection.interrupt_response != barge_in:
            session.reconfigure(
                replace(
                    session.config, turn_detection=replace(detection, interrupt_response=barge_in)
                )
            )


async def run_dialplan(
    plan: Dialplan,
    call: Call,
    *,
    variables: dict[str, Any] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    recordings: Path = Path("recordings"),
) -> Interpreter:
    """Run ``plan`` on ``call`` to its end (the call is hung up afterwards)."""
    interpreter = Interpreter(plan, call, variables=variables, now=now, recordings=recordings)
    interpreter.enter_dialplan_mode()
    await interpreter.run()
    return interpreter
