"""One settings object, read from the environment and `.env` (prefix ``BRIDGE_``).

The LLM endpoint also honours the standard ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``.
Settings are passed to whatever needs them; nothing reads the environment globally.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

ENV_PREFIX = "BRIDGE_"
# What a caller says over the agent to show they are listening, not to take the turn.
BACKCHANNEL_WORDS = (
    "uh-huh", "uh huh", "mm-hmm", "mm hmm", "mhm", "hmm", "mm", "uh", "um", "ah", "oh",
    "yeah", "yes", "yep", "yup", "okay", "ok", "right", "alright", "all right", "sure",
    "i see", "got it", "cool", "great", "nice", "wow", "really", "exactly", "true",
)  # fmt: skip


class ConfigError(Exception):
    """A setting has a bad value; the message names the environment key."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        frozen=True,  # read once at start; a change is a new Settings (model_copy)
        populate_by_name=True,  # Settings(max_calls=...) as well as BRIDGE_MAX_CALLS
    )

    # Server
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = ""
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    log_transcripts: bool = True
    # TLS: serve https/wss directly (PEM files); both or neither.
    tls_cert: str = ""
    tls_key: str = ""

    # The browser softphone at / and its call door (POST /softphone/calls)
    softphone: bool = True
    softphone_key_ttl_s: int = Field(default=600, ge=10, le=7200)

    # Speech-to-text (faster-whisper in process, or an OpenAI-compatible transcription endpoint)
    stt_backend: Literal["local", "openai"] = "local"
    stt_base_url: str = ""
    stt_api_key: str = ""
    stt_model: str = "tiny.en"
    stt_device: Literal["auto", "cpu", "cuda"] = "auto"
    stt_compute_type: str = "auto"
    stt_language: str = "en"
    stt_prompt: str = ""
    stt_beam_size: int = Field(default=1, ge=1, le=10)
    stt_cpu_threads: int = Field(default=0, ge=0)
    stt_workers: int = Field(default=1, ge=1, le=64)
    stt_short_context: bool = True
    # Cross-call batching: transcriptions ready together run as one batch (one worker). auto:
    # on with CUDA; off on a CPU, where it was measured to save nothing (see the README).
    stt_batch: Literal["auto", "on", "off"] = "auto"
    stt_batch_size: int = Field(default=8, ge=1, le=256)
    stt_batch_wait_ms: float = Field(default=5.0, ge=0.0, le=100.0)
    prefetch_reply: bool = True

    # Text-to-speech
    tts_backend: Literal["piper", "openai", "coqui"] = "piper"
    tts_voice: str = "en_US-joe-medium"
    tts_model: str = ""
    tts_speed: float = Field(default=1.0, gt=0.2, le=4.0)
    tts_base_url: str = ""
    tts_api_key: str = ""
    tts_workers: int = Field(default=1, ge=1, le=64)
    tts_cpu_threads: int = Field(default=0, ge=0)
    tts_device: Literal["auto", "cpu", "cuda"] = "auto"  # Piper on onnxruntime's CUDA provider
    inference_nice: int = Field(default=10, ge=0, le=19)  # model threads below the event loop

    # LLM (any OpenAI-compatible chat completions endpoint, or canned replies offline)
    llm_backend: Literal["openai", "canned"] = "openai"
    llm_base_url: str = Field(
        default="https://api.openai.com/v1",
        validation_alias=AliasChoices("BRIDGE_LLM_BASE_URL", "OPENAI_BASE_URL"),
    )
    llm_api_key: str = Field(
        default="",
        validation_alias=AliasChoices("BRIDGE_LLM_API_KEY", "OPENAI_API_KEY"),
    )
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = Field(default=15.0, gt=0)
    llm_temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(default=400, ge=1)
    system_prompt: str = (
        "You are a helpful voice assistant on a phone call. Answer briefly, in plain spoken "
        "sentences without lists or markup."
    )

    # Phone calls
    default_dialplan: str = "dialplans/reception.yaml"
    dialplans_dir: str = "dialplans"
    recordings_dir: str = "recordings"
    greeting: str = "Hello! How can I help you today?"
    fallback_message: str = "Sorry, I am having trouble answering right now. Please try again."
    audiosocket_port: int | None = Field(default=None, ge=0, le=65535)
    twilio_auth_token: str = ""
    twilio_account_sid: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    telnyx_api_key: str = ""
    telnyx_api_url: str = "https://api.telnyx.com"
    telnyx_stream_token: str = ""
    plivo_auth_id: str = ""
    plivo_auth_token: str = ""
    plivo_api_url: str = "https://api.plivo.com"
    relay_url: str = ""
    relay_api_key: str = ""
    relay_voice: str = "alloy"

    # Direct SIP trunks (SIP over UDP, G.711 RTP)
    sip_port: int | None = Field(default=None, ge=0, le=65535)
    sip_host: str = ""
    sip_public_host: str = ""
    sip_ring_ms: int = Field(default=0, ge=0, le=60_000)
    sip_rtp_ports: str = "10000-20000"
    sip_rtp_timeout_s: float = Field(default=30.0, gt=0)
    sip_hold_timeout_s: float = Field(default=3600.0, gt=0)
    sip_allowed_sources: Annotated[list[str], NoDecode] = Field(default_factory=list)
    sip_trunk_uri: str = ""
    sip_trunk_username: str = ""
    sip_trunk_password: str = ""
    sip_register: bool = False

    # WebRTC (/v1/realtime/calls and the beta SDP offer). STUN/TURN URLs, comma-separated;
    # empty: host candidates only (aiortc's own default asks Google's STUN server).
    webrtc_ice_servers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webrtc_turn_username: str = ""
    webrtc_turn_credential: str = ""
    # Host candidates offered: only these local addresses (empty: every IPv4 but loopback) ...
    webrtc_host_addresses: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # ... announced as this address instead (a 1:1 NAT, a container's host address).
    webrtc_advertised_address: str = ""
    # A peer that has not connected this long after its answer is closed.
    webrtc_connect_timeout_s: float = Field(default=15.0, gt=0, le=300)
    # Origins allowed to call the realtime HTTP endpoints from a browser page ("*": any).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Voice activity detection and turn taking
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    vad_prefix_padding_ms: int = Field(default=300, ge=0, le=5000)
    vad_silence_ms: int = Field(default=500, ge=32, le=10000)
    vad_min_speech_ms: int = Field(default=32, ge=0, le=5000)
    turn_detection: Literal["server_vad", "semantic_vad"] = "semantic_vad"
    turn_eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    turn_model: Literal["smart_turn", "none"] = "smart_turn"
    turn_check_ms: int = Field(default=200, ge=32, le=5000)
    turn_recheck_ms: int = Field(default=500, ge=32, le=10000)
    backchannels: bool = True
    interrupt_min_ms: int = Field(default=600, ge=32, le=10000)
    backchannel_words: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(BACKCHANNEL_WORDS)
    )

    # Drop-in names for /v1/realtime clients: "name=target" pairs, comma-separated
    model_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    voice_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # Limits
    # Concurrent calls and realtime sessions, from every door together. BRIDGE_MAX_SESSIONS is
    # the older name, still read.
    max_calls: int = Field(
        default=100,
        ge=1,
        validation_alias=AliasChoices("BRIDGE_MAX_CALLS", "BRIDGE_MAX_SESSIONS"),
    )
    # Draining (SIGTERM or POST /drain): how long live calls may go on before each hears the
    # goodbye and is hung up.
    drain_timeout_s: float = Field(default=300.0, ge=0)
    drain_goodbye: str = (
        "Sorry, this line has to close now for maintenance. Please call again. Goodbye."
    )
    max_message_bytes: int = Field(default=1 << 20, ge=1024)
    # OpenTelemetry (`tracing` extra): OTLP/HTTP base URL (http://collector:4318); empty: off.
    otlp_endpoint: str = ""
    loop_stall_ms: int = Field(default=0, ge=0, le=60_000)  # log the loop's stack past this
    # Deepest nesting of arrays/objects in a realtime message or a client-secrets / SIP-call
    # request body; deeper text is refused before parsing (it would exhaust the stack).
    max_json_depth: int = Field(default=64, ge=8, le=200)
    max_audio_buffer_s: float = Field(default=120.0, gt=0)
    max_session_s: float = Field(default=3600.0, gt=0)

    @field_validator("stt_batch", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        # true/false as for the other switches, besides auto.
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, str):
            lowered = value.strip().lower()
            return {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off"}.get(
                lowered, lowered
            )
        return value

    @field_validator("api_keys", "webrtc_ice_servers", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        # A comma-separated list is friendlier in an env file than JSON.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webrtc_ice_servers")
    @classmethod
    def _check_ice_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"expected stun:, stuns:, turn: or turns: URLs, got {url!r}")
        return value

    @field_validator("webrtc_host_addresses", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for address in value:
            ipaddress.ip_address(address)  # ValueError names the bad entry
        return value

    @field_validator("backchannel_words", mode="before")
    @classmethod
    def _split_words(cls, value: Any) -> Any:
        # Comma-separated phrases, compared lower-case (an empty value: no backchannels).
        if isinstance(value, str):
            value = value.split(",")
        return [str(word).strip().lower() for word in value if str(word).strip()]

    @field_validator("audiosocket_port", "sip_port", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sip_allowed_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for source in value:
            ipaddress.ip_network(source, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("sip_rtp_ports")
    @classmethod
    def _check_port_range(cls, value: str) -> str:
        low, sep, high = value.partition("-")
        try:
            first, last = int(low), int(high if sep else low)
        except ValueError:
            raise ValueError(f"expected LOW-HIGH, got {value!r}") from None
        if not 1024 <= first <= last <= 65535:
            raise ValueError(f"expected 1024 <= LOW <= HIGH <= 65535, got {value!r}")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("BRIDGE_TLS_CERT and BRIDGE_TLS_KEY go together: set both or neither")
        return self

    @property
    def sip_rtp_port_range(self) -> range:
        low, _, high = self.sip_rtp_ports.partition("-")
        return range(int(low), int(high or low) + 1)

    @field_validator("model_map", "voice_map", mode="before")
    @classmethod
    def _split_pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        pairs = {}
        for entry in filter(None, (part.strip() for part in value.split(","))):
            name, sep, target = entry.partition("=")
            if not sep or not name.strip() or not target.strip():
                raise ValueError(f"expected name=target pairs, got {entry!r}")
            pairs[name.strip()] = target.strip()
        return pairs

    @field_validator("stt_model", "tts_voice", "llm_model")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    # --- what each subsystem is handed: frozen views of the settings it reads ----------

    @property
    def conversation(self) -> ConversationSettings:
        return ConversationSettings(
            system_prompt=self.system_prompt,
            prefetch_reply=self.prefetch_reply,
            min_speech_ms=self.vad_min_speech_ms,
            turn_check_ms=self.turn_check_ms,
            turn_recheck_ms=self.turn_recheck_ms,
            backchannels=self.backchannels,
            interrupt_min_ms=self.interrupt_min_ms,
            backchannel_words=tuple(self.backchannel_words),
            max_audio_buffer_s=self.max_audio_buffer_s,
            log_transcripts=self.log_transcripts,
            model_map=dict(self.model_map),
        )

    @property
    def vad(self) -> VadSettings:
        return VadSettings(
            threshold=self.vad_threshold,
            prefix_padding_ms=self.vad_prefix_padding_ms,
            silence_ms=self.vad_silence_ms,
            turn_detection=self.turn_detection,
            eagerness=self.turn_eagerness,
        )

    @property
    def control(self) -> ControlSettings:
        return ControlSettings(
            twilio_account_sid=self.twilio_account_sid,
            twilio_auth_token=self.twilio_auth_token,
            twilio_api_url=self.twilio_api_url,
            telnyx_api_key=self.telnyx_api_key,
            telnyx_api_url=self.telnyx_api_url,
            plivo_auth_id=self.plivo_auth_id,
            plivo_auth_token=self.plivo_auth_token,
            plivo_api_url=self.plivo_api_url,
        )

    @property
    def sip(self) -> SipSettings:
        host = self.sip_host or self.host
        return SipSettings(
            host=host,
            port=self.sip_port or 0,
            public_host=self.sip_public_host or host,
            ring_ms=self.sip_ring_ms,
            rtp_ports=self.sip_rtp_port_range,
            rtp_timeout_s=self.sip_rtp_timeout_s,
            hold_timeout_s=self.sip_hold_timeout_s,
            allowed_sources=tuple(self.sip_allowed_sources),
            trunk_uri=self.sip_trunk_uri,
            trunk_username=self.sip_trunk_username,
            trunk_password=self.sip_trunk_password,
            register=self.sip_register,
        )


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    """What the conversation engine reads (built by :attr:`Settings.conversation`, which holds
    the defaults)."""

    system_prompt: str
    prefetch_reply: bool
    min_speech_ms: int
    turn_check_ms: int
    turn_recheck_ms: int
    backchannels: bool
    interrupt_min_ms: int
    backchannel_words: tuple[str, ...]
    max_audio_buffer_s: float
    log_transcripts: bool
    model_map: dict[str, str]

    def llm_model_for(self, requested: str) -> str | None:
        """The LLM mapped to a realtime model name, or None for the configured ``llm_model``."""
        return self.model_map.get(requested)


@dataclass(frozen=True, slots=True)
class VadSettings:
    """Turn detection for the bridge's own calls (``BRIDGE_VAD_*``, ``BRIDGE_TURN_*``)."""

    threshold: float
    prefix_padding_ms: int
    silence_ms: int
    turn_detection: Literal["server_vad", "semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"


@dataclass(frozen=True, slots=True)
class ControlSettings:
    """Carrier REST call control credentials and endpoints."""

    twilio_account_sid: str
    twilio_auth_token: str
    twilio_api_url: str
    telnyx_api_key: str
    telnyx_api_url: str
    plivo_auth_id: str
    plivo_auth_token: str
    plivo_api_url: str


@dataclass(frozen=True, slots=True)
class SipSettings:
    """The SIP user agent (``BRIDGE_SIP_*``), with defaults resolved (host, public host)."""

    host: str
    port: int  # 0 picks a free port
    public_host: str
    ring_ms: int
    rtp_ports: range
    rtp_timeout_s: float
    hold_timeout_s: float
    allowed_sources: tuple[str, ...]
    trunk_uri: str
    trunk_username: str
    trunk_password: str
    register: bool


def _env_key(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return " / ".join(str(choice) for choice in alias.choices)
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into one ConfigError naming each bad key."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            got = error.get("input")
            shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
            where = f"{_env_key(error['loc'])}: " if error["loc"] else ""  # whole-object rules
            problems.append(f"{where}{error['msg']}{shown}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
    except SettingsError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
