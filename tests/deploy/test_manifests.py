"""The deploy/ files, checked offline: the Kubernetes overlays render with `kubectl kustomize`
and validate against the Kubernetes JSON schemas shipped in the kubernetes-validate wheel
(CRDs it cannot know, ServiceMonitor, are checked by shape); the Dockerfiles are parsed and
held to our rules (no container engine or hadolint here); compose.yaml parses and refers
to files that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.32.0"


def render(overlay: str) -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl")
    out = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_overlay_renders_and_validates(overlay: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = render(overlay)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= kinds
    assert {"ServiceMonitor", "DaemonSet"} <= kinds
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            # A CRD the schemas do not cover: check its shape.
            endpoint = doc["spec"]["endpoints"][0]
            assert endpoint["path"] == "/metrics"
            assert doc["spec"]["selector"]["matchLabels"]
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_bridge_pods_drain_before_they_stop(overlay: str) -> None:
    docs = render(overlay)
    (deployment,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "bridge"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e.get("value") for e in container["env"]}
    drain_s = float(env["BRIDGE_DRAIN_TIMEOUT_S"])
    assert pod["terminationGracePeriodSeconds"] > drain_s
    pre_stop = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    assert "/drain" in pre_stop
    assert 'method="POST"' in pre_stop
    gpu = container["resources"].get("limits", {}).get("nvidia.com/gpu")
    assert (gpu == 1) == (overlay == "gpu")
    if overlay == "gpu":
        assert env["BRIDGE_STT_DEVICE"] == "cuda"
        assert env["BRIDGE_STT_COMPUTE_TYPE"] == "float16"
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "bridge_live_calls"
    (edge,) = by_kind(docs, "DaemonSet")
    assert edge["spec"]["template"]["spec"]["hostNetwork"] is True


def dockerfile(name: str) -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / name).read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_dockerfile_follows_the_rules(name: str) -> None:
    steps = dockerfile(name)
    (base,) = [args for op, args in steps if op == "FROM"]
    image, _, tag = base.partition(":")
    assert re.search(r"\d", tag), f"{base}: pin the base image by a version tag"
    if name == "Dockerfile":
        assert image == "python"
        assert "slim" in tag
    else:
        assert image == "nvidia/cuda"
        assert tag.startswith("12.")
        assert "cudnn" in tag
        assert "runtime" in tag
        run = " ".join(args for op, args in steps if op == "RUN")
        assert "uninstall -y onnxruntime" in run
        assert "onnxruntime-gpu" in run
        env = " ".join(args for op, args in steps if op == "ENV")
        assert "BRIDGE_STT_DEVICE=cuda" in env
        assert "BRIDGE_STT_COMPUTE_TYPE=float16" in env
    users = [args for op, args in steps if op == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    ops = [op for op, _ in steps]
    assert ops.index("USER") < ops.index("ENTRYPOINT")
    healthcheck = next(args for op, args in steps if op == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    for op in ("ENTRYPOINT", "CMD"):
        (args,) = [a for o, a in steps if o == op]
        assert isinstance(json.loads(args), list), f"{op} must be exec form"
    assert isinstance(json.loads(healthcheck.split("CMD", 1)[1]), list)
    everything = " ".join(args for _, args in steps)
    assert not re.search(r"\b(curl|wget|huggingface|hf_hub|snapshot_download)\b", everything)
    assert not [args for op, args in steps if op == "ADD"]


def test_compose_parses_and_refers_to_what_exists() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"bridge-1", "bridge-2", "kamailio", "rtpengine", "prometheus", "ollama"} <= set(
        services
    )
    assert services["ollama"]["profiles"] == ["llm"]
    for service in services.values():
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), volume
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["metrics_path"] == "/metrics"
    # Prometheus scrapes each bridge's HTTP port; Kamailio dispatches to each SIP port.
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    ports = {s["environment"]["BRIDGE_PORT"] for n, s in services.items() if n.startswith("b")}
    assert {t.rsplit(":", 1)[1] for t in targets} == ports
    sip = {s["environment"]["BRIDGE_SIP_PORT"] for n, s in services.items() if n.startswith("b")}
    listed = re.findall(
        r"^1 sip:[^:]+:(\d+)", (DEPLOY / "kamailio" / "dispatcher.list").read_text(), re.M
    )
    assert set(listed) == sip
