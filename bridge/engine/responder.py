"""One response: LLM tokens -> clauses -> TTS -> server events, in the API's order.

:class:`ResponseRun` streams the LLM; text goes out as text deltas (text modality) or, clause by
clause, as transcript deltas followed by the clause's audio (audio modality). Tool calls become
``function_call`` items with streamed arguments. Cancelling the task ends the response with
status ``cancelled``; an LLM or TTS failure ends it ``failed``. Either way every open part and
item is closed and ``response.done`` is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

from bridge import observe
from bridge.audio import WireEncoder, bytes_per_second
from bridge.audio.level import trim_lead_in
from bridge.engine import events as ev
from bridge.engine.errors import CommandError
from bridge.engine.history import History
from bridge.engine.items import AudioPart, FunctionCallItem, Item, ItemStatus, MessageItem, TextPart
from bridge.engine.listener import AssistantAudio
from bridge.engine.llm_request import LLMRequest, llm_events
from bridge.engine.prefetch import Prefetch
from bridge.engine.response import Response, ResponseError, StatusReason, Usage
from bridge.logging import get_logger
from bridge.pipeline.llm import (
    ChatLLM,
    Completed,
    LLMError,
    LLMEvent,
    TextDelta,
    ToolCallDelta,
)
from bridge.pipeline.text import ClauseSplitter
from bridge.pipeline.tts import TextToSpeech, TTSError

log = get_logger("bridge.realtime.responder")

AUDIO_DELTA_MS = 200  # audio per response.audio.delta: small enough to start playing at once
Emit = Callable[[ev.EngineEvent], None]


@dataclass
class _Message:
    """The assistant message a response is writing (one content part)."""

    item: MessageItem
    part: TextPart | AudioPart
    index: int
    encoder: WireEncoder | None  # audio modality only


class ResponseRun:
    def __init__(
        self,
        response: Response,
        request: Callable[[], Awaitable[LLMRequest]],
        *,
        llm: ChatLLM,
        tts: TextToSpeech,
        emit: Emit,
        conversation: History | None,
        throttle: Callable[[AssistantAudio], Awaitable[None]] | None = None,
        prefetch: Prefetch | None = None,
    ) -> None:
        """``prefetch``: this reply, possibly already asked for (used if the request matches)."""
        self.response = response
        self._prepare = request  # awaited after response.created: input may still be transcribing
        self._llm = llm
        self._tts = tts
        self._emit = emit
        self._conversation = conversation  # None for out-of-band responses
        self._throttle = throttle  # holds synthesis back while enough audio waits to play
        self._prefetch = prefetch
        self.cancel_reason: StatusReason = "client_cancelled"
        self.audio: AssistantAudio | None = None
        self._message: _Message | None = None
        self._calls: dict[int, FunctionCallItem] = {}
        self._encoder: WireEncoder | None = None
        self._audio_out = "audio" in response.output_modalities
        self._playing = asyncio.Event()  # cleared while the listener is paused
        self._playing.set()
        self._clause_audio = bytearray()  # the clause being sent, not yet in the item
        self.audio_done = False  # response.audio.done was sent: no more audio will come

    # --- pausing (the caller made a sound over the reply) ----------------------------------

    def pause(self) -> None:
        """Send no more audio until :meth:`resume` (generation and synthesis go on)."""
        self._playing.clear()

    def resume(self) -> None:
        self._playing.set()

    def sent_audio(self) -> bytes:
        """All the audio this reply has sent so far, in the wire format."""
        part = self._message.part if self._message is not None else None
        whole = (part.audio or b"") if isinstance(part, AudioPart) else b""
        return whole + bytes(self._clause_audio)

    # --- the run -------------------------------------------------------------------------

    async def run(self) -> None:
        self._emit(ev.ResponseCreated(self.response))
        try:
            request = await self._prepare()
            self._emit(_rate_limits(request.max_tokens or self._llm.max_tokens))
            await self._generate(request)
            if self.response.status == "in_progress":
                self.response.status = "completed"
        except asyncio.CancelledError:
            self.response.status = "cancelled"
            self.response.reason = self.cancel_reason
        except (LLMError, TTSError) as exc:
            log.warning("response failed", response_id=self.response.id, error=str(exc))
            self._failed(str(exc))
        except CommandError as exc:  # the conversation refused the reply's item (it is full)
            log.warning("response refused", response_id=self.response.id, error=exc.message)
            self.response.status = "failed"
            self.response.error = ResponseError(exc.type, exc.code, exc.message)
            self._emit(ev.ErrorEvent.from_exception(exc))
        except Exception as exc:  # an engine crashed (a TTS backend's native code, say)
            log.error("response failed", response_id=self.response.id, exc_info=True)
            self._failed(f"{type(exc).__name__}: {exc}")
        finally:
            self._drop_prefetch()
            self._finish_items()
            self._emit(ev.ResponseDone(self.response))

    def _failed(self, message: str) -> None:
        """The response fails; a call answers that with its fallback message."""
        self.response.status = "failed"
        self.response.error = ResponseError("server_error", "engine_error", message)
        self._emit(ev.ErrorEvent(message, code="engine_error", error_type="server_error"))

    def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch.cancel()
            self._prefetch = None

    async def _generate(self, request: LLMRequest) -> None:
        splitter = ClauseSplitter()
        source: AsyncIterator[LLMEvent]
        if request.script is not None:
            source = _scripted(request.script)
        elif self._prefetch is not None and self._prefetch.matches(request):
            source = self._prefetch.events()
            observe.annotate(**{"bridge.prefetched": True})  # its llm span is the call's
            log.debug("reply was prefetched", response_id=self.response.id)
        else:
            self._drop_prefetch()
            source = llm_events(self._llm, request)
        async for event in source:
            if isinstance(event, TextDelta):
                message = self._message or self._start_message()
                if isinstance(message.part, TextPart):
                    self._add_text(message, message.part, event.text)
                else:
                    for clause in splitter.feed(event.text):
                        await self._speak(message, message.part, clause)
            elif isinstance(event, ToolCallDelta):
                self._call_delta(event)
            elif isinstance(event, Completed):
                if self._message is not None and isinstance(self._message.part, AudioPart):
                    for clause in splitter.flush():
                        await self._speak(self._message, self._message.part, clause)
                self.response.usage = Usage(
                    input_text_tokens=event.usage.input_tokens,
                    output_text_tokens=event.usage.output_tokens,
                )
                if event.finish_reason == "length":
                    self.response.status = "incomplete"
                    self.response.reason = "max_output_tokens"

    # --- assistant message ---------------------------------------------------------------

    def _start_message(self) -> _Message:
        item = MessageItem(role="assistant", content=[], status="in_progress")
        self._add_output_item(item)
        part: TextPart | AudioPart = TextPart()
        encoder = None
        if self._audio_out:
            part = AudioPart()
            fmt = self.response.output_audio_format
            encoder = WireEncoder(fmt.encoding, fmt.sample_rate, self._tts.sample_rate)
            rate = bytes_per_second(fmt.encoding, fmt.sample_rate) / 1000
            self.audio = AssistantAudio(item, bytes_per_ms=rate)
        item.content.append(part)
        self._message = _Message(item, part, self._index(item), encoder)
        self._emit(
            ev.ResponseContentPartAdded(self.response.id, item.id, self._message.index, 0, part)
        )
        return self._message

    def _add_text(self, message: _Message, part: TextPart, delta: str) -> None:
        part.text += delta
        self._emit(ev.ResponseTextDelta(self.response.id, message.item.id, message.index, 0, delta))

    async def _speak(self, message: _Message, part: AudioPart, clause: str) -> None:
        audio, encoder = self.audio, message.encoder
        assert audio is not None
        assert encoder is not None
        if self._throttle is not None:
            await self._throttle(audio)
        item_id, index = message.item.id, message.index
        first = not part.transcript  # the listener is waiting for these words
        delta = clause if first else " " + clause
        part.transcript += delta
        self._emit(ev.ResponseAudioTranscriptDelta(self.response.id, item_id, index, 0, delta))
        chunk_bytes = max(2, int(audio.bytes_per_ms * AUDIO_DELTA_MS)) // 2 * 2
        # Encoded a delta's worth at a time: the first goes out before the rest of a long
        # clause is resampled (the encoder's state carries across pieces).
        piece_bytes = max(2, self._tts.sample_rate * 2 * AUDIO_DELTA_MS // 1000) // 2 * 2
        clause_audio = self._clause_audio
        asked = time.monotonic()
        try:
            with observe.span("tts", **{"bridge.clause_chars": len(clause), "bridge.first": first}):
                async for pcm in self._tts.stream(clause, urgent=first):
                    if first and not clause_audio:
                        observe.timing("tts_first_audio", time.monotonic() - asked)
                        # Voices open with tens of ms of near-silence (Piper: 35-45 ms): the
                        # caller would wait that long for the reply's first word.
                        pcm = trim_lead_in(pcm, self._tts.sample_rate)
                    await self._playing.wait()  # paused: hold the audio (a chunk goes whole)
                    for piece in _deltas(encoder, pcm, piece_bytes, chunk_bytes):
                        if audio.first_audio_at is None:
                            audio.first_audio_at = time.monotonic()
                        clause_audio += piece
                        self._emit(
                            ev.ResponseAudioDelta(self.response.id, item_id, index, 0, piece)
                        )
        finally:
            # The item's audio and its clause timeline grow together, once per clause (not
            # per delta: re-joining the whole reply for every 200 ms piece is quadratic), and
            # a cancelled clause keeps the audio that went out.
            if clause_audio:
                part.audio = (part.audio or b"") + bytes(clause_audio)
                audio.spoken.add(clause, len(clause_audio) / audio.bytes_per_ms)
            self._clause_audio = bytearray()

    # --- function calls ------------------------------------------------------------------

    def _call_delta(self, delta: ToolCallDelta) -> None:
        item = self._calls.get(delta.index)
        if item is None:
            item = FunctionCallItem(name=delta.name, status="in_progress")
            if delta.call_id:
                item.call_id = delta.call_id
            self._calls[delta.index] = item
            self._add_output_item(item)
        if delta.arguments:
            item.arguments += delta.arguments
            self._emit(
                ev.ResponseFunctionCallArgumentsDelta(
                    self.response.id, item.id, self._index(item), item.call_id, delta.arguments
                )
            )

    # --- bookkeeping ---------------------------------------------------------------------

    def _index(self, item: Item) -> int:
        return next(i for i, out in enumerate(self.response.output) if out is item)

    def _add_output_item(self, item: Item) -> None:
        self.response.output.append(item)
        self._emit(ev.ResponseOutputItemAdded(self.response.id, self._index(item), item))
        if self._conversation is not None:
            previous = self._conversation.insert(item)
            self._emit(ev.ConversationItemAdded(item, previous))

    def _finish_items(self) -> None:
        """Close every open part and item, in output order (also after a cancel or failure)."""
        status: ItemStatus = "completed" if self.response.status == "completed" else "incomplete"
        for item in self.response.output:
            index = self._index(item)
            if self._message is not None and item is self._message.item:
                part = self._message.part
                if isinstance(part, AudioPart):
                    self.audio_done = True
                    self._emit(ev.ResponseAudioDone(self.response.id, item.id, index, 0))
                    self._emit(
                        ev.ResponseAudioTranscriptDone(
                            self.response.id, item.id, index, 0, part.transcript
                        )
                    )
                else:
                    self._emit(ev.ResponseTextDone(self.response.id, item.id, index, 0, part.text))
                self._emit(ev.ResponseContentPartDone(self.response.id, item.id, index, 0, part))
            elif isinstance(item, FunctionCallItem):
                self._emit(
                    ev.ResponseFunctionCallArgumentsDone(
                        self.response.id, item.id, index, item.call_id, item.name, item.arguments
                    )
                )
            item.status = status
            self._emit(ev.ResponseOutputItemDone(self.response.id, index, item))
            if self._conversation is not None:
                self._emit(ev.ConversationItemDone(item))


async def _scripted(text: str) -> AsyncIterator[LLMEvent]:
    yield TextDelta(text)
    yield Completed("stop", text)


def _rate_limits(tokens: int) -> ev.RateLimitsUpdated:
    """A local bridge has no quotas; it reports what bounds this response instead: one active
    response per session, and the response's output token budget (the response's
    ``max_output_tokens``, else ``BRIDGE_LLM_MAX_TOKENS``)."""
    return ev.RateLimitsUpdated(
        (
            ev.RateLimit("requests", limit=1, remaining=0, reset_seconds=0.0),
            ev.RateLimit("tokens", limit=tokens, remaining=tokens, reset_seconds=0.0),
        )
    )


def _deltas(
    encoder: WireEncoder, pcm: bytes, piece_bytes: int, delta_bytes: int
) -> Iterator[bytes]:
    """``pcm`` encoded ``piece_bytes`` at a time, cut into deltas of ``delta_bytes`` (the last
    shorter): the same deltas as encoding it whole, the first of them sooner."""
    pending = bytearray()
    for offset in range(0, len(pcm), piece_bytes):
        pending += encoder.encode(pcm[offset : offset + piece_bytes])
        last = offset + piece_bytes >= len(pcm)
        while len(pending) >= delta_bytes or (last and pending):
            yield bytes(pending[:delta_bytes])
            del pending[:delta_bytes]
