"""Documentation that must not drift from the code."""

import re
from pathlib import Path

from bridge.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]


def documented_keys(path: Path) -> set[str]:
    return set(re.findall(r"^(BRIDGE_[A-Z0-9_]+)=", path.read_text(), re.MULTILINE))


def test_env_example_lists_every_setting_with_a_comment() -> None:
    expected = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    example = ROOT / ".env.example"
    assert documented_keys(example) == expected
    lines = example.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith(ENV_PREFIX):
            assert lines[index - 1].startswith("# "), f"{line.split('=')[0]} has no comment"


def test_env_example_is_a_valid_configuration(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    settings = Settings()
    assert settings.port == 8080
    assert settings.system_prompt.startswith("You are a helpful voice assistant")


def test_readme_configuration_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        name for name in Settings.model_fields if f"`{ENV_PREFIX}{name.upper()}`" not in readme
    ]
    assert not missing, f"README configuration table lacks {missing}"
