"""Hypothesis settings and shared strategies for the fuzz suites (not a conftest: other test
folders import the root one as ``conftest``).

``BRIDGE_FUZZ_PROFILE=ci`` (the default) runs at least 10,000 generated inputs per parser and
keeps the folder near a minute on two cores; ``long`` runs 200,000 per parser. Both are
derandomized (a fixed seed: the same inputs every run) with no example database, so a failure
reproduces by running the test again.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CI_EXAMPLES = 10_000
_PROFILES = {"ci": CI_EXAMPLES, "long": 200_000}
# Each Hypothesis example expands into BATCH inputs (seeded mutations of what it drew): the
# parsers take microseconds, Hypothesis's generation milliseconds, so a batch keeps 10,000
# inputs per parser within the CI budget while Hypothesis still explores the structure.
BATCH = 10
PROFILE = os.environ.get("BRIDGE_FUZZ_PROFILE", "ci")
if PROFILE not in _PROFILES:
    raise ValueError(f"BRIDGE_FUZZ_PROFILE must be one of {sorted(_PROFILES)}, got {PROFILE!r}")
EXAMPLES = _PROFILES[PROFILE]

# deadline=None: two shared cores make per-example timing noise, not signal. too_slow and
# data_too_large are suppressed because the inputs are meant to be large (deep nesting, huge
# strings); filter_too_much is not: strategies must not filter.
FUZZ = settings(
    max_examples=EXAMPLES // BATCH,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Counter:
    """Counts the inputs a fuzz test really ran, so the suite can prove its 10,000."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self) -> None:
        self.runs += 1

    def check(self, minimum: int = EXAMPLES) -> None:
        assert self.runs >= minimum, f"only {self.runs} generated inputs (wanted {minimum})"


# --- JSON-ish values --------------------------------------------------------------------

HUGE_INTS = st.sampled_from([10**30, -(10**30), 2**63, 2**64 + 1, 10**400, -1, 0])
NUMBERS = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    HUGE_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
)
TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "²", "８０００", "٨", "\u0000", "\ud800", "inf", "NaN", "-1", "0"]),
)


def leaves(words: list[str]) -> st.SearchStrategy[Any]:
    """Scalars, with the protocol's own words (event types, enum values) mixed in."""
    return st.one_of(
        st.none(), st.booleans(), NUMBERS, TEXT, st.sampled_from(words) if words else TEXT
    )


def json_values(keys: list[str], words: list[str], *, max_leaves: int = 12) -> Any:
    """Nested lists and objects whose keys are mostly the protocol's own field names."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=6)) if keys else st.text(max_size=6)
    return st.recursive(
        leaves(words),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(key, children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


# --- seeded mutations -------------------------------------------------------------------

HOSTILE: list[Any] = [
    None, True, False, 0, -1, 1, 10**400, 2**64, -(2**63), 1e308, 1.5, float("nan"),
    float("inf"), "", " ", "²", "８０００", "\u0000", "x" * 70_000, "1e400", [], {}, [[[]]],
    {"a": {"b": {}}}, ["a"], "AAAA", "data", "inbound", "start", "media",
]  # fmt: skip


def mutate(document: Any, rng: random.Random) -> Any:
    """A copy of ``document`` with one place changed: a value replaced by a hostile one,
    a key dropped, a value wrapped in a list or turned into a string."""
    if not isinstance(document, dict | list) or not document or rng.random() < 0.1:
        return rng.choice(HOSTILE)
    copy: Any = json.loads(json.dumps(document))
    parent: Any = copy
    while True:
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        if not keys:
            return copy
        key = rng.choice(keys)
        child = parent[key]
        if isinstance(child, dict | list) and child and rng.random() < 0.6:
            parent = child
            continue
        how = rng.randrange(4)
        if how == 0 and isinstance(parent, dict):
            del parent[key]
        elif how == 1:
            parent[key] = [child]
        elif how == 2:
            parent[key] = str(child)
        else:
            parent[key] = rng.choice(HOSTILE)
        return copy


def mangle(text: str, rng: random.Random) -> str:
    """``text`` cut short, with a character changed, or buried in deep nesting."""
    how = rng.randrange(10)
    if how == 0 and text:
        return text[: rng.randrange(len(text))]
    if how == 1 and text:
        at = rng.randrange(len(text))
        return text[:at] + rng.choice('[]{}",:\\x0') + text[at + 1 :]
    if how == 2:
        levels = rng.choice([65, 300, 5000])
        return rng.choice(["[" * levels, '{"a":' * levels, text[:-1] + ',"z":' + "[" * levels])
    return text


def json_variants(document: Any, seed: int, count: int = BATCH) -> list[str]:
    """``count`` frames derived from ``document``: itself, then seeded mutations of it, each
    sometimes mangled as text."""
    rng = random.Random(seed)
    frames = [json.dumps(document)]
    while len(frames) < count:
        changed = document
        for _ in range(rng.choice([1, 1, 2, 3])):
            changed = mutate(changed, rng)
        frames.append(mangle(json.dumps(changed, allow_nan=True), rng))
    return frames
