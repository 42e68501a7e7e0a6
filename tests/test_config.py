import pytest

from bridge.config import ConfigError, load_settings


def test_defaults_listen_on_loopback_8080(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRIDGE_PORT", raising=False)
    monkeypatch.delenv("BRIDGE_HOST", raising=False)
    settings = load_settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_environment_uses_the_bridge_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_PORT", "9001")
    monkeypatch.setenv("BRIDGE_API_KEYS", "alpha, beta")
    monkeypatch.setenv("BRIDGE_STT_DEVICE", "cpu")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.api_keys == ["alpha", "beta"]
    assert settings.stt_device == "cpu"


def test_llm_endpoint_honours_the_standard_openai_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("BRIDGE_LLM_MODEL", "llama3.2")
    settings = load_settings()
    assert settings.llm_base_url == "http://127.0.0.1:11434/v1"
    assert settings.llm_api_key == "sk-test"
    assert settings.llm_model == "llama3.2"


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BRIDGE_TTS_SPEED", raising=False)
    (tmp_path / ".env").write_text("BRIDGE_TTS_SPEED=1.25\n")
    assert load_settings().tts_speed == 1.25


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("BRIDGE_PORT", "eighty", "BRIDGE_PORT: Input should be a valid integer"),
        ("BRIDGE_PORT", "70000", "BRIDGE_PORT: Input should be less than or equal to 65535"),
        ("BRIDGE_VAD_THRESHOLD", "1.5", "BRIDGE_VAD_THRESHOLD: Input should be less than 1"),
        ("BRIDGE_STT_DEVICE", "tpu", "BRIDGE_STT_DEVICE: Input should be 'auto', 'cpu' or 'cuda'"),
        ("BRIDGE_LLM_MODEL", " ", "BRIDGE_LLM_MODEL: Value error, must not be empty"),
        ("BRIDGE_WEBRTC_ICE_SERVERS", "http://stun.example", "BRIDGE_WEBRTC_ICE_SERVERS: Value"),
        ("BRIDGE_WEBRTC_HOST_ADDRESSES", "10.0.0.1,eth0", "BRIDGE_WEBRTC_HOST_ADDRESSES: Value"),
    ],
)
def test_a_bad_value_names_its_key(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, message: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert message in str(error.value)


def test_webrtc_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_WEBRTC_ICE_SERVERS", "stun:a.example:3478, turn:b.example:3478")
    monkeypatch.setenv("BRIDGE_WEBRTC_HOST_ADDRESSES", "10.0.0.1")
    monkeypatch.setenv("BRIDGE_CORS_ORIGINS", "https://a.example,https://b.example")
    settings = load_settings()
    assert settings.webrtc_ice_servers == ["stun:a.example:3478", "turn:b.example:3478"]
    assert settings.webrtc_host_addresses == ["10.0.0.1"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.webrtc_connect_timeout_s == 15.0
