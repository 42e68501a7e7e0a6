"""Dialplan YAML through :func:`~bridge.dialplan.check.check_text`: a file is a checked plan
or a list of problems with their lines, never an exception or a hang.

Inputs: each node of the shipped dialplans in a small plan of its own, then seeded mutations
of the structure (wrong types, huge numbers and strings, dropped keys, deep nesting) dumped as
YAML, and of the YAML text itself (cut, a character changed, deep flow nesting)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml
from fuzz_profiles import BATCH, FUZZ, Counter, mangle, mutate
from hypothesis import given
from hypothesis import strategies as st

from bridge.dialplan.check import check_text

SHIPPED = Path(__file__).resolve().parents[2] / "dialplans"


def small_plans() -> list[dict[str, Any]]:
    plans = []
    for path in sorted(SHIPPED.glob("*.yaml")):
        plan = yaml.safe_load(path.read_text())
        for name, node in plan["nodes"].items():
            plans.append(
                {
                    "name": plan["name"],
                    "start": name,
                    "route": plan.get("route", {}),
                    "globals": plan.get("globals", [])[:1],
                    "nodes": {name: node, "end": {"type": "hangup"}},
                }
            )
    return plans


PLANS = small_plans()
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
YAML_BITS = ["- ", ": ", "{", "[", "&a ", "*a", "!!python/object:os.system ", "? ", "\t", "'", "#"]


def test_every_dialplan_text_is_a_plan_or_problems() -> None:
    counter = Counter()

    @FUZZ
    @given(plan=st.sampled_from(PLANS), seed=st.integers(0, 2**32), bit=st.sampled_from(YAML_BITS))
    def fuzz(plan: dict[str, Any], seed: int, bit: str) -> None:
        rng = random.Random(seed)
        for _ in range(BATCH):
            document = plan
            for _ in range(rng.choice([1, 1, 2])):
                document = mutate(document, rng)
            text = yaml.dump(document, Dumper=DUMPER, allow_unicode=rng.random() < 0.5)
            if rng.random() < 0.3:
                at = rng.randrange(len(text) + 1)
                text = text[:at] + bit + text[at:]
            text = mangle(text, rng)
            counter()
            result, problems = check_text(text, "fuzz.yaml")
            assert result is not None or problems
            assert all(p.file == "fuzz.yaml" and p.line >= 1 for p in problems)

    fuzz()
    counter.check()
