"""Validate wire dicts against the ``openai`` SDK's own pydantic types, in either dialect.

The SDK annotates its event unions with its private ``PropertyInfo(discriminator="type")``,
which pydantic ignores, so the bare union is re-wrapped with pydantic's ``Field(discriminator=
"type")``: a wrong ``type`` then fails loudly instead of trying every member.

The SDK models accept unknown fields (``extra="allow"``), so a misspelt optional field would
pass silently. :func:`validate_server_event` therefore also walks the parsed model and fails on
any field the SDK does not declare, except the few we send on purpose (:data:`ALLOWED_EXTRAS`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, get_args

from openai.types import realtime as ga
from openai.types.beta import realtime as beta
from pydantic import BaseModel, Field, TypeAdapter

from bridge.realtime.dialect import Dialect


def _discriminated(alias: Any) -> TypeAdapter[Any]:
    union = get_args(alias)[0]  # strip the SDK's Annotated[..., PropertyInfo(...)]
    adapted: Any = Annotated[union, Field(discriminator="type")]  # built at runtime
    return TypeAdapter(adapted)


_SERVER = {
    Dialect.BETA: _discriminated(beta.RealtimeServerEvent),
    Dialect.GA: _discriminated(ga.RealtimeServerEvent),
}
_CLIENT = {
    Dialect.BETA: _discriminated(beta.RealtimeClientEvent),
    Dialect.GA: _discriminated(ga.RealtimeClientEvent),
}


def server_event_types(dialect: Dialect) -> frozenset[str]:
    """Every ``type`` literal in the SDK's server event union."""
    union = get_args(
        get_args(beta.RealtimeServerEvent if dialect is Dialect.BETA else ga.RealtimeServerEvent)[0]
    )
    return frozenset(get_args(m.model_fields["type"].annotation)[0] for m in union)


class _BetaTranscriptionSessionCreated(BaseModel):
    # Sent by the live beta API and in OpenAI's OpenAPI spec, but missing from the Python
    # SDK's beta union: validated here with the SDK's TranscriptionSession for the payload.
    event_id: str
    type: str
    session: beta.TranscriptionSession


# Event types the SDK union lacks, with a stand-in model.
SDK_UNION_GAPS: dict[Dialect, dict[str, type[BaseModel]]] = {
    Dialect.BETA: {"transcription_session.created": _BetaTranscriptionSessionCreated},
    Dialect.GA: {},
}

# Fields we send deliberately although the SDK type does not declare them (the live API sends
# them too): the session object's identity and expiry, and beta transcription extras.
ALLOWED_EXTRAS: frozenset[str] = frozenset(
    {
        "session.id",
        "session.object",
        "session.expires_at",
        "session.input_audio_noise_reduction",
        "session.include",
        "session.turn_detection.eagerness",
        "session.turn_detection.create_response",
        "session.turn_detection.interrupt_response",
    }
)


def undeclared_fields(model: BaseModel, path: str = "") -> list[str]:
    """Dotted paths of every field present in ``model`` (recursively) but not declared."""
    found = [f"{path}{key}" for key in (model.model_extra or {})]
    for name in type(model).model_fields:
        found += _walk(getattr(model, name), f"{path}{name}")
    return found


def _walk(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return undeclared_fields(value, path + ".")
    if isinstance(value, list):
        # Index-free paths so the allow-list can name a field of every element at once.
        return [p for entry in value for p in _walk(entry, path)]
    return []


def validate_server_event(
    event: dict[str, Any], dialect: Dialect, *, allowed_extras: Collection[str] = ALLOWED_EXTRAS
) -> BaseModel:
    """Parse ``event`` with the dialect's SDK server-event union; raise on any mismatch."""
    gap = SDK_UNION_GAPS[dialect].get(event.get("type", ""))
    model: BaseModel = gap.model_validate(event) if gap else _SERVER[dialect].validate_python(event)
    unexpected = [p for p in undeclared_fields(model) if p not in allowed_extras]
    if unexpected:
        raise AssertionError(f"{event['type']}: fields unknown to the SDK: {unexpected}")
    return model


def validate_client_event(event: dict[str, Any], dialect: Dialect) -> BaseModel:
    """Parse ``event`` with the dialect's SDK client-event union (to check test fixtures)."""
    model: BaseModel = _CLIENT[dialect].validate_python(event)
    return model
