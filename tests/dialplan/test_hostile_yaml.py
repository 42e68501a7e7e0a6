"""A dialplan file that is hostile or broken is a list of problems (DialplanInvalid), never
another exception or a hang at start-up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.dialplan.check import DialplanInvalid, check_text, load_dialplan

LAUGHS = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
    for prev, name in zip("abcdefg", "bcdefgh", strict=True)
)

HOSTILE = {
    "deep flow nesting": "[" * 5000,
    "deep block nesting": "".join("  " * i + f"k{i}:\n" for i in range(400)) + "  " * 400 + "x",
    "unhashable key": "? [a]\n: b\n",
    "python tag": "name: !!python/object:os.system x\n",
    "billion laughs": LAUGHS,
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_yaml_is_a_problem_quickly(text: str) -> None:
    started = time.monotonic()
    plan, problems = check_text(text, "hostile.yaml")
    assert plan is None
    assert problems
    assert all(p.file == "hostile.yaml" for p in problems)
    assert time.monotonic() - started < 5


def test_a_file_that_is_not_utf8_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DialplanInvalid, match="not UTF-8"):
        load_dialplan(path)
