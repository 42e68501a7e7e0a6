"""Health, readiness and the model list over a real loopback socket."""

import asyncio

import httpx

from bridge.app import create_app
from bridge.config import Settings
from bridge.pipeline.engines import Engines
from bridge.testing.fakes import fake_engines
from bridge.testing.serve import serve_app


async def test_ready_only_once_models_are_loaded() -> None:
    release = asyncio.Event()
    loaded = asyncio.Event()

    async def slow_loader(settings: Settings) -> Engines:
        await release.wait()
        loaded.set()
        return fake_engines()

    app = create_app(Settings(default_dialplan="agent"), loader=slow_loader)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        loading = await client.get("/readyz")
        assert (loading.status_code, loading.json()) == (503, {"status": "loading"})
        release.set()
        await loaded.wait()
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["status"]) == (200, "ready")
        # Where each model runs (a fake STT says cpu / none; one transcription at a time).
        assert ready.json()["devices"] == {
            "stt": {"device": "cpu", "compute_type": "none", "batch": 1},
            "tts": {"device": "cpu"},
        }


async def test_failed_loading_is_reported_by_readyz() -> None:
    async def broken_loader(settings: Settings) -> Engines:
        raise RuntimeError("cannot load STT model 'x'")

    app = create_app(Settings(default_dialplan="agent"), loader=broken_loader)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        await client.get("/healthz")  # answered only after the lifespan started loading
        await app.state.runtime.wait_loaded()
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "error": "cannot load STT model 'x'"}


async def test_models_lists_the_configured_stt_tts_and_llm() -> None:
    settings = Settings(llm_model="llama3", stt_model="tiny.en", default_dialplan="agent")
    app = create_app(settings, loader=lambda s: asyncio.Event().wait())  # type: ignore[arg-type,return-value]
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = (await client.get("/v1/models")).json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == {"llama3", "tiny.en", "en_US-joe-medium"}
    assert all(m["object"] == "model" for m in body["data"])


async def test_models_say_where_stt_and_tts_run_once_loaded() -> None:
    settings = Settings(llm_model="llama3", stt_model="tiny.en", default_dialplan="agent")
    app = create_app(settings, engines=fake_engines())
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        body = (await client.get("/v1/models")).json()
    by_kind = {m["owned_by"]: m for m in body["data"]}
    assert by_kind["voice-bridge:stt"]["device"] == "cpu"
    assert by_kind["voice-bridge:stt"]["batch"] == 1
    assert by_kind["voice-bridge:tts"]["device"] == "cpu"
    assert "device" not in by_kind["voice-bridge:llm"]
