"""The local conversation engine: one session on the local speech pipeline.

A :class:`LocalConversation` takes typed commands (:meth:`handle`) and reports everything
through one ``emit`` callback of plain events, so the order of events is the order of ``emit``
calls. It owns the conversation history, the input audio with VAD and the end-of-turn model
(:mod:`~bridge.engine.turn_end`), a turn worker (transcribe, then respond) and at most one
active response; barge-in is :mod:`~bridge.engine.barge_in`'s. A refused command raises
:class:`CommandError` before any state changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bridge.audio import StreamResampler
from bridge.config import ConversationSettings
from bridge.engine import commands as cmd
from bridge.engine import errors
from bridge.engine import events as ev
from bridge.engine.barge_in import BargeIn
from bridge.engine.commands import Command
from bridge.engine.config import SessionConfig
from bridge.engine.early import EARLY_MODEL_MS, EARLY_MS, EarlyTranscripts
from bridge.engine.errors import CommandError
from bridge.engine.history import History
from bridge.engine.ids import new_conversation_id, new_item_id, new_session_id
from bridge.engine.input_audio import InputAudio, vad_params
from bridge.engine.items import InputAudioPart, InputTextPart, Item, MessageItem
from bridge.engine.listener import AssistantAudio, Listener, WallClockListener
from bridge.engine.llm_request import LLMRequest, build_request
from bridge.engine.overlap import Verdict, with_backchannel_prompt
from bridge.engine.prefetch import Prefetch
from bridge.engine.responder import ResponseRun
from bridge.engine.response import Response, ResponseParams, StatusReason, new_response
from bridge.engine.transcription import transcribe_item
from bridge.engine.truncation import audio_part, truncate_audio
from bridge.engine.turn_end import TurnEnd, new_turn_end
from bridge.engine.turn_log import TurnLog
from bridge.logging import get_logger
from bridge.pipeline.engines import Engines
from bridge.pipeline.stt import Transcript
from bridge.pipeline.vad import SpeechStarted, SpeechStopped, VadParams

log = get_logger("bridge.realtime.session")
STT_RATE = 16_000

Emit = Callable[[ev.EngineEvent], None]


class LocalConversation:
    def __init__(
        self,
        *,
        engines: Engines,
        settings: ConversationSettings,
        emit: Emit,
        config: SessionConfig | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.id = new_session_id()
        self.config = config or SessionConfig()
        self.history = History()
        self.history_id = new_conversation_id()
        self._engines = engines
        self._settings = settings
        self._emit = emit
        self._listener: Listener = listener or WallClockListener()
        self._input = self._new_input(stream_ms=0.0)
        self._turn_end = self._new_turn_end()
        self._barge = BargeIn(
            self._listener,
            settings,
            cancel=self._cancel,
            truncate=self._truncate_heard,
            sample_bytes=lambda: self.config.output_audio_format.bytes_per_sample,
        )
        self._speech_item_id: str | None = None
        self._run: ResponseRun | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._spoken: dict[str, AssistantAudio] = {}  # assistant item id -> playout record
        self._turns: asyncio.Queue[tuple[MessageItem, bool]] = asyncio.Queue()
        self._transcribed: dict[str, asyncio.Event] = {}  # item id -> set once transcribed
        self._early = EarlyTranscripts(self._early_text, self._prefetch_reply, self._drop_prefetch)
        self._turn_worker: asyncio.Task[None] | None = None
        self.voice_locked = False
        self._queued_says: list[str] = []
        self._prefetch: Prefetch | None = None
        self._turn_log = TurnLog(transcripts=settings.log_transcripts)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._emit(ev.SessionCreated(self.config, self.id))
        self._emit(ev.ConversationCreated(self.history_id))
        self._turn_worker = asyncio.create_task(self._process_turns())

    async def close(self) -> None:
        self._early.close()
        self._turn_end.cancel()
        tasks = [t for t in (self._run_task, self._turn_worker) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._turn_log.close()

    @property
    def responding(self) -> bool:
        """A response is being generated (the response task finishing up does not count)."""
        task = self._run_task
        return task is not None and not task.done() and task is not asyncio.current_task()

    # --- commands ------------------------------------------------------------------------

    async def handle(self, command: Command) -> None:
        match command:
            case cmd.UpdateConfig(config=config):
                self._update(config)
            case cmd.AppendAudio(audio=audio):
                await self._append(audio)
            case cmd.CommitAudio():
                self._input.check_commit()
                self._commit(self._input.take(), new_item_id(), respond=False)
            case cmd.ClearAudio():
                self._input.clear()
                self._emit(ev.InputAudioBufferCleared())
            case cmd.CreateItem(item=item, previous_item_id=previous_id):
                self._create_item(item, previous_id)
            case cmd.RetrieveItem(item_id=item_id):
                self._emit(ev.ConversationItemRetrieved(self.history.get(item_id)))
            case cmd.TruncateItem(item_id=item_id, content_index=index, audio_end_ms=end_ms):
                self.truncate(item_id, index, end_ms)
            case cmd.DeleteItem(item_id=item_id):
                self.history.delete(item_id)
                self._spoken.pop(item_id, None)
                self._emit(ev.ConversationItemDeleted(item_id))
            case cmd.CreateResponse(params=params):
                self.create_response(params)
            case cmd.CancelResponse(response_id=response_id):
                await self._cancel_requested(response_id)
            case cmd.ClearOutputAudio():  # WebRTC: as a barge-in, but the client asked
                await self.interrupt("client_cancelled")

    def reconfigure(self, config: SessionConfig) -> None:
        """Change the session from the server side (a dialplan switching modes)."""
        self._update(config)

    def _update(self, config: SessionConfig) -> None:
        before = self.config
        self.config = config
        # Only a new format or new VAD parameters need a fresh buffer (create_response and
        # interrupt_response can change mid-call without losing the caller's audio).
        vad_changed = self._vad_params(before) != self._vad_params(config)
        audio_changed = vad_changed or before.input_audio_format != config.input_audio_format
        if audio_changed:
            self._input = self._new_input(stream_ms=self._input.stream_ms)
            self._speech_item_id = None
        if before.turn_detection != config.turn_detection or audio_changed:
            self._turn_end.cancel()
            self._turn_end = self._new_turn_end()
        self._emit(ev.SessionUpdated(self.config, self.id))

    def _vad_params(self, config: SessionConfig) -> VadParams | None:
        has_model = self._engines.turn is not None
        return vad_params(config.turn_detection, self._settings.min_speech_ms, turn_model=has_model)

    def _new_turn_end(self) -> TurnEnd:
        def audio() -> tuple[bytes, int]:
            return self._input.peek_all(), self._input.rate

        return new_turn_end(self._engines.turn, self.config.turn_detection, self._settings, audio)

    def _new_input(self, stream_ms: float) -> InputAudio:
        return InputAudio(
            self.config.input_audio_format,
            self._engines.vad,
            self._vad_params(self.config),
            max_seconds=self._settings.max_audio_buffer_s,
            stream_ms=stream_ms,
        )

    # --- input audio and turns -----------------------------------------------------------

    async def _append(self, audio: bytes) -> None:
        for speech in await self._input.append(audio):
            if isinstance(speech, SpeechStarted):
                await self._speech_started(speech)
            else:
                await self._speech_stopped(speech)
        pause = self._input.pause
        if self._barge.overlap is not None and pause is not None:
            # Speech over a paused reply: an interruption, or a backchannel to drop?
            text = self._early.text_for(pause[0])
            if await self._barge.judge(pause[0], text) is Verdict.BACKCHANNEL:
                await self._stop_speech(backchannel=True)
        elif self._turn_end.poll(pause):
            await self._stop_speech()  # the model says the caller has finished
        self._early.update(self._input.pause, EARLY_MODEL_MS if self._turn_end.active else EARLY_MS)

    async def _speech_started(self, speech: SpeechStarted) -> None:
        self._speech_item_id = new_item_id()
        self._emit(ev.InputAudioBufferSpeechStarted(self._speech_item_id, speech.audio_start_ms))
        detection = self.config.turn_detection
        if detection is not None and detection.interrupt_response and self.speaking:
            answering = detection.create_response
            await self._barge.speech_started(speech.start_ms, self._run, answering=answering)

    async def _stop_speech(self, *, backchannel: bool = False) -> None:
        stopped = self._input.end_speech()
        if stopped is not None:
            await self._speech_stopped(stopped, backchannel=backchannel)

    async def _speech_stopped(self, speech: SpeechStopped, *, backchannel: bool = False) -> None:
        item_id = self._speech_item_id or new_item_id()
        self._speech_item_id = None
        self._emit(ev.InputAudioBufferSpeechStopped(item_id, speech.end_ms))
        if self._barge.overlap is not None:  # speech over a paused reply: the words decide
            text = await self._early.wait_text(speech.end_ms)
            verdict = await self._barge.judge(None, text, final=True)
            backchannel = verdict is Verdict.BACKCHANNEL
        if backchannel:
            self._early.drop()  # heard, and not a turn: nothing to commit or answer
            self._input.take(speech.end_ms)
            return
        detection = self.config.turn_detection
        respond = detection is not None and detection.create_response
        self._early.turn_ended(item_id, speech.end_ms)
        turn = self._input.take(speech.end_ms)
        self._commit(turn, item_id, respond=respond)
        self._turn_log.turn_ended(item_id, self._input, speech.end_ms, turn)

    async def _early_text(self, end_ms: float) -> Transcript:  # over a reply: a backchannel?
        over_reply = self._barge.overlap is not None
        return await self._speech_to_text(self._input.peek(end_ms), over_reply, early=True)

    async def _speech_to_text(
        self, pcm: bytes, backchannel_hint: bool = False, *, early: bool = False
    ) -> Transcript:
        transcription = self.config.input_transcription
        prompt = transcription.prompt if transcription else None
        return await self._engines.stt.transcribe(
            StreamResampler(self._input.rate, STT_RATE).process(pcm),
            language=transcription.language if transcription else None,
            prompt=with_backchannel_prompt(prompt) if backchannel_hint else prompt,
            early=early,
        )

    def _commit(self, pcm: bytes, item_id: str, *, respond: bool) -> None:
        part = InputAudioPart(audio=self._input.encode_for_item(pcm))
        item = MessageItem(role="user", content=[part], id=item_id)
        previous = self.history.insert(item)
        self._emit(ev.InputAudioBufferCommitted(item_id, previous))
        self._turn_log.committed(item_id)  # the turn's span starts
        self._emit(ev.ConversationItemAdded(item, previous))
        self._emit(ev.ConversationItemDone(item, previous))
        self._queue_transcription(item, respond=respond)

    def _create_item(self, item: Item, previous_id: str | None) -> None:
        previous = self.history.insert(item, previous_id)
        self._emit(ev.ConversationItemAdded(item, previous))
        self._emit(ev.ConversationItemDone(item, previous))
        needs_transcript = isinstance(item, MessageItem) and any(
            isinstance(p, InputAudioPart) and p.audio and p.transcript is None for p in item.content
        )
        if needs_transcript:
            assert isinstance(item, MessageItem)
            self._queue_transcription(item, respond=False)

    def _queue_transcription(self, item: MessageItem, *, respond: bool) -> None:
        self._transcribed[item.id] = asyncio.Event()
        self._turns.put_nowait((item, respond))

    async def _process_turns(self) -> None:
        """Transcribe committed audio in order; then answer, once any playing reply is done."""
        while True:
            item, respond = await self._turns.get()
            try:
                with self._turn_log.within(item.id):
                    await self._transcribe(item)
            finally:
                self._transcribed.pop(item.id).set()
            if respond and self.config.kind == "realtime":
                if self._run_task is not None:
                    await asyncio.wait([self._run_task])
                self.create_response(ResponseParams())

    async def _transcribe(self, item: MessageItem) -> None:
        async def from_wire(audio: bytes) -> Transcript:
            return await self._speech_to_text(self._input.decode(audio))

        report = self.config.input_transcription is not None or self.config.kind != "realtime"
        await transcribe_item(
            item, from_wire, self._emit, report=report, early=self._early.take(item.id)
        )

    # --- responses -----------------------------------------------------------------------

    def add_item(self, item: Item) -> None:
        """Append an item the server made (a built-in tool's output, say)."""
        self._create_item(item, None)

    def add_user_text(self, text: str) -> MessageItem:
        """Put what the user said or keyed (DTMF) into the conversation as text."""
        item = MessageItem(role="user", content=[InputTextPart(text)])
        self._create_item(item, None)
        return item

    def say(self, text: str) -> None:
        """Speak ``text`` as the assistant (no LLM); it joins the conversation like a reply.
        While a response is active the text waits for it to end."""
        if self.responding:
            self._queued_says.append(text)
        else:
            self.create_response(ResponseParams(), script=text)

    def create_response(self, params: ResponseParams, *, script: str | None = None) -> None:
        if self.responding:
            assert self._run is not None
            raise CommandError(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress: "
                f"{self._run.response.id}. Wait until the response is finished before creating "
                "a new one.",
            )
        items = self.history.resolve(params.input)
        response = new_response(self.config, params, conversation_id=self.history_id)
        self._barge.abandon()

        async def request() -> LLMRequest:
            # The LLM reads transcripts: wait for any input still being transcribed.
            pending = [self._transcribed[i.id] for i in items if i.id in self._transcribed]
            for done in pending:
                await done.wait()
            return self._llm_request(items, params, response, script)

        prefetch, self._prefetch = self._prefetch, None
        run = ResponseRun(
            response,
            request,
            llm=self._engines.llm,
            tts=self._engines.tts_for(response.voice),
            emit=self._emit,
            conversation=self.history if params.conversation == "auto" else None,
            throttle=self._listener.throttle,
            prefetch=prefetch,
        )
        self._run = run
        with self._turn_log.within():  # the reply's spans are the open turn's
            self._run_task = asyncio.create_task(self._respond(run))
        if "audio" in response.output_modalities:
            self.voice_locked = True

    def _llm_request(
        self, items: list[Item], params: ResponseParams, response: Response, script: str | None
    ) -> LLMRequest:
        return build_request(
            self.config,
            items,
            params,
            response,
            default_instructions=self._settings.system_prompt,
            model=self._settings.llm_model_for(self.config.model),
            script=script,
        )

    def _prefetch_reply(self, job: asyncio.Task[Transcript]) -> None:
        """The speech so far is transcribed and the caller is still quiet: ask for the reply
        the end of this turn would ask for (see :mod:`bridge.realtime.prefetch`)."""
        detection = self.config.turn_detection
        if (
            not self._settings.prefetch_reply
            or job.cancelled()
            or job.exception() is not None
            or self._early.job is not job  # the turn ended already, or the caller talked on
            or self.config.kind != "realtime"
            or detection is None
            or not detection.create_response
            or self.responding
            or self._barge.overlap is not None  # words over the reply: not a turn (yet)
            or not job.result().text
        ):
            return
        turn = MessageItem(role="user", content=[InputAudioPart(transcript=job.result().text)])
        params = ResponseParams()
        response = new_response(self.config, params, conversation_id=self.history_id)
        request = self._llm_request([*self.history, turn], params, response, None)
        tts = self._engines.tts_for(response.voice)
        warm = getattr(tts, "warm", None) if "audio" in response.output_modalities else None
        self._drop_prefetch()
        self._prefetch = Prefetch(request, self._engines.llm, warm)

    def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch.cancel()
            self._prefetch = None

    async def _respond(self, run: ResponseRun) -> None:
        await run.run()
        self._turn_log.answered(run, self.history)
        if run.audio is not None:
            self._spoken[run.audio.item.id] = run.audio
        if self._queued_says:
            self.create_response(ResponseParams(), script=self._queued_says.pop(0))

    async def _cancel_requested(self, response_id: str | None) -> None:
        if not self.responding:
            raise CommandError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        assert self._run is not None
        if response_id is not None and response_id != self._run.response.id:
            raise CommandError(
                errors.INVALID_VALUE, f"Response '{response_id}' is not active.", "response_id"
            )
        await self._cancel("client_cancelled")

    async def _cancel(self, reason: StatusReason) -> None:
        run, task = self._run, self._run_task
        if run is None or task is None or task.done():
            return
        run.cancel_reason = reason
        task.cancel()
        await asyncio.wait([task])

    @property
    def speaking(self) -> bool:
        """A reply is being generated or its audio is still playing to the listener."""
        if self.responding:
            return True
        audio = self._run.audio if self._run is not None else None
        if audio is None or audio.interrupted:
            return False
        return self._listener.heard_ms(audio) < audio.sent_ms - 1

    async def interrupt(self, reason: StatusReason = "turn_detected") -> None:
        """Stop the reply now (a key over a prompt, a WebRTC clear): see :mod:`.barge_in`."""
        await self._barge.interrupt(self._run, reason)

    def _truncate_heard(self, audio: AssistantAudio, heard: int | None) -> None:
        if audio.item in self.history:
            self._spoken[audio.item.id] = audio
            if heard is not None:
                self.truncate(audio.item.id, 0, heard)

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        part = audio_part(self.history.get(item_id), content_index)
        record = self._spoken.get(item_id)
        truncate_audio(part, audio_end_ms, self.config.output_audio_format, record)
        self._emit(ev.ConversationItemTruncated(item_id, content_index, audio_end_ms))
