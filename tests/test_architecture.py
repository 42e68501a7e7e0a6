"""The import graph follows the seam: doors drive realtime/calls, which drive the engine,
which uses the pipeline; nothing in production leans on the simulated caller or test tools.

Every ``from bridge.X ...`` / ``import bridge.X`` in a package is checked (including those
under ``TYPE_CHECKING``: a type-only import still ties the packages together)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

BRIDGE = Path(__file__).resolve().parent.parent / "bridge"
TEST_SIDE = {"caller", "testing", "bench"}

# Package -> the bridge packages (and top-level modules) it may import besides itself.
ALLOWED: dict[str, set[str]] = {
    "audio": set(),
    "media": {"audio", "observe"},
    # WebRTC media (aiortc): no engine and no dialect; doors join it to a conversation.
    "webrtc": {"audio", "logging", "observe"},
    "carriers": {"audio", "logging", "json_limits"},
    "pipeline": {"audio", "config", "logging"},
    # observe: the standard-library hooks metrics listen on (bridge/metrics.py, not the engine,
    # imports prometheus_client)
    "engine": {"audio", "config", "logging", "pipeline", "observe"},
    "observe": set(),
    "realtime": {"engine", "audio", "logging", "json_limits"},
    "upstream": {"engine", "realtime", "audio", "logging", "json_limits"},
    "calls": {
        "engine",
        "media",
        "carriers",
        "upstream",
        "pipeline",
        "audio",
        "config",
        "logging",
        "json_limits",
    },
    # the softphone's transport, page feed and directory: doors/softphone.py composes them
    "softphone": {
        "calls",
        "carriers",
        "dialplan",
        "engine",
        "realtime",
        "webrtc",
        "audio",
        "logging",
    },
    "dialplan": {
        "calls",
        "engine",
        "carriers",
        "pipeline",
        "audio",
        "config",
        "logging",
        "json_limits",
    },
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "bridge" and len(parts) > 1:
                found.add(parts[1])
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in BRIDGE.rglob("*.py"):
        relative = path.relative_to(BRIDGE).with_suffix("")
        package = relative.parts[0]
        graph[package] |= _imports(path) - {package}
    return graph


GRAPH = _graph()


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_downstream(package: str) -> None:
    extra = GRAPH[package] - ALLOWED[package]
    assert not extra, f"bridge/{package} imports {sorted(extra)} against the seam's direction"


def test_production_code_never_imports_the_test_side() -> None:
    # cli.py is the composition root: it wires the `bridge call` and `bridge bench` commands.
    production = set(GRAPH) - TEST_SIDE - {"cli"}
    offenders = {p: GRAPH[p] & TEST_SIDE for p in production if GRAPH[p] & TEST_SIDE}
    assert not offenders, f"production imports test-side packages: {offenders}"


def test_the_checker_sees_real_imports() -> None:
    # Guard against a checker that passes because it reads nothing.
    assert {"pipeline", "config"} <= GRAPH["engine"]
    assert "engine" in GRAPH["realtime"]


def test_no_module_is_over_450_lines() -> None:
    long = {
        str(p.relative_to(BRIDGE)): n
        for p in BRIDGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 450
    }
    assert not long, f"split these into modules of one concept each: {long}"
