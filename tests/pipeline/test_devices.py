"""Device settings: what ``auto`` picks on this machine, and a clear error when CUDA is asked
for where it cannot be used (these tests run on CPU-only machines; on a GPU machine the
``cuda`` ones are skipped)."""

import pytest

from bridge import cli
from bridge.config import Settings
from bridge.pipeline.engines import batch_stt, check_devices
from bridge.pipeline.onnx import CUDA_PROVIDER, DeviceError, onnx_providers, resolve_onnx_device
from bridge.pipeline.stt import STTError, cuda_devices, resolve_device

no_cuda = pytest.mark.skipif(cuda_devices() > 0, reason="a CUDA device is present")
no_cuda_provider = pytest.mark.skipif(
    CUDA_PROVIDER in onnx_providers(), reason="onnxruntime-gpu is installed"
)


@no_cuda
def test_auto_picks_the_cpu_with_int8_without_a_gpu() -> None:
    assert resolve_device("auto", "auto") == ("cpu", "int8")


@no_cuda
def test_stt_on_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(STTError, match="BRIDGE_STT_DEVICE=cuda but CTranslate2 finds no"):
        resolve_device("cuda", "auto")


def test_a_compute_type_the_device_cannot_do_is_refused() -> None:
    with pytest.raises(STTError, match="'float16' is not supported on cpu: choose auto or"):
        resolve_device("cpu", "float16")


@no_cuda_provider
def test_tts_on_cuda_without_onnxruntime_gpu_says_how_to_get_it() -> None:
    assert resolve_onnx_device("auto") == "cpu"
    with pytest.raises(DeviceError, match="pip install onnxruntime-gpu"):
        resolve_onnx_device("cuda")


@no_cuda
def test_check_devices_fails_before_any_model_loads() -> None:
    check_devices(Settings())  # auto is fine anywhere
    with pytest.raises(DeviceError, match="BRIDGE_STT_DEVICE=cuda"):
        check_devices(Settings(stt_device="cuda"))
    check_devices(Settings(stt_device="cuda", stt_backend="openai"))  # a remote model: no GPU


@no_cuda
def test_serve_with_cuda_asked_for_exits_at_once_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIDGE_STT_DEVICE", "cuda")
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "BRIDGE_STT_DEVICE=cuda but CTranslate2 finds no usable CUDA device" in (
        capsys.readouterr().err
    )


def test_stt_batching_is_on_with_cuda_by_default_and_switchable() -> None:
    assert batch_stt("auto", "cuda")
    assert not batch_stt("auto", "cpu")
    assert batch_stt("on", "cpu")
    assert not batch_stt("off", "cuda")
    assert Settings(stt_batch="true").stt_batch == "on"  # true/false as for other switches
    assert Settings(stt_batch="false").stt_batch == "off"
    with pytest.raises(ValueError, match="'auto', 'on' or 'off'"):
        Settings(stt_batch="maybe")


def test_with_a_gpu_auto_picks_cuda_with_float16(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctranslate2

    from bridge.pipeline import stt as stt_module

    monkeypatch.setattr(stt_module, "cuda_devices", lambda: 1)
    monkeypatch.setattr(
        ctranslate2, "get_supported_compute_types", lambda device: {"float16", "int8", "float32"}
    )
    assert resolve_device("auto", "auto") == ("cuda", "float16")
    assert resolve_device("cuda", "int8") == ("cuda", "int8")
