"""A dialplan node's turn detection: the call's (``BRIDGE_TURN_DETECTION``), or its own.

A menu that expects a one-word answer can end turns eagerly, an agent node taking long
answers can be patient, and a node may keep plain silence (``server_vad``) where callers
read out numbers with long gaps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.config import VadSettings
from bridge.dialplan.schema import TurnDetection
from bridge.engine.config import SemanticVad, ServerVad, call_turn_detection


def detection_for(
    settings: VadSettings, choice: TurnDetection | None, **changes: Any
) -> ServerVad | SemanticVad:
    """The engine's turn detection for a node that chose ``choice`` (None: the call's)."""
    if choice is not None:
        settings = replace(
            settings,
            turn_detection=choice.type,
            eagerness=choice.eagerness,
            silence_ms=choice.silence_ms or settings.silence_ms,
        )
    return call_turn_detection(settings, **changes)
