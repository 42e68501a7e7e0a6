"""Run sipp (the SIP traffic generator, Debian package sip-tester) as a test peer.

``run_sipp`` starts one sipp process on loopback, waits for it without blocking the event loop
and returns its exit code with the logs that explain a failure (the messages sent and
received, the unexpected ones). Scenario files live in ``tests/sip/scenarios``; their
``-set`` variables are declared in a ``<Global variables="..."/>`` element and read as
``[$name]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import shutil
import socket
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SIPP = "sipp"
# Debian installs the pcap files that sipp's built-in uac_pcap plays here; the scenario opens
# them as "pcap/<name>" relative to the working directory.
PCAP_DIR = Path("/usr/share/sip-tester")
HOST = "127.0.0.1"
# How long after its own -timeout sipp is given before it is killed.
KILL_GRACE_S = 10.0

# sipp's documented exit codes (sipp -h); 255 and 254 are its -1 and -2.
_EXIT_CODES = {
    0: "all calls succeeded",
    1: "at least one call failed",
    97: "exit on internal command, calls may have been processed",
    99: "normal exit without calls processed",
    254: "fatal error binding a socket (port in use?)",
    255: "fatal error (bad scenario or option, or the global -timeout was reached)",
}
_GLOBAL_VARS = re.compile(r"<Global\s+variables\s*=\s*[\"']([^\"']*)[\"']")


@dataclass(frozen=True)
class SippResult:
    """What one sipp run did. ``messages`` and ``errors`` are the -trace_msg and -trace_err
    logs: every SIP message sent and received, and the unexpected ones with the reason."""

    returncode: int
    stdout: str
    stderr: str
    messages: str
    errors: str
    sip_port: int
    media_port: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def explain(self, tail_lines: int = 40) -> str:
        """A summary for assertion messages: what the exit code means, sipp's final scenario
        screen (a row per scenario step: how many were sent, received, timed out, unexpected),
        and the tails of the error log, stderr and the message log."""
        if self.returncode < 0:
            meaning = f"killed by signal {-self.returncode} (it overran its -timeout)"
        else:
            meaning = _EXIT_CODES.get(self.returncode, "unknown exit code")
        parts = [f"sipp exited with {self.returncode}: {meaning} (sip port {self.sip_port})"]
        for title, text in (
            ("scenario screen", _scenario_screen(self.stdout)),
            ("errors", self.errors),
            ("stderr", self.stderr),
            ("messages", self.messages),
        ):
            lines = [line.rstrip() for line in text.strip().splitlines()]
            if lines:
                parts.append(f"--- {title} (last {tail_lines} lines) ---")
                parts.extend(lines[-tail_lines:])
        return "\n".join(parts)


def sipp_available() -> bool:
    return shutil.which(SIPP) is not None


def free_udp_port(*, pair: bool = False) -> int:
    """A free UDP port on loopback. ``pair=True`` also wants port+2 free: sipp binds its media
    port and media port + 2 (audio and video echo). Another process may take the port before
    it is used; good enough for tests, as nothing else on loopback picks ports this way."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            port: int = probe.getsockname()[1]
            if not pair:
                return port
            if port + 2 > 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                try:
                    second.bind((HOST, port + 2))
                except OSError:
                    continue
                return port


async def run_sipp(
    scenario: str | Path,
    target: str | None,
    *,
    variables: Mapping[str, str] | None = None,
    calls: int = 1,
    concurrent: int | None = None,
    rate: int | None = None,
    timeout_s: float = 60,
    cwd: Path | None = None,
    extra: Sequence[str] = (),
    sip_port: int | None = None,
    media_port: int | None = None,
    ready: asyncio.Event | None = None,
) -> SippResult:
    """Run sipp until it exits and return what it did.

    ``scenario`` is a scenario file (a Path, or a str with "/" or ending in ".xml"; run with
    -sf) or the name of a built-in scenario such as "uas" or "uac_pcap" (-sn). ``target`` is
    "127.0.0.1:PORT", or None for a UAS scenario that only answers. ``variables`` are passed
    with -set and must be exactly the scenario's <Global> variables: a missing one would be
    sent as an empty string (an SDP without a port), an undeclared one is a sipp error.

    sipp quits after ``timeout_s``, rounded up to whole seconds (-timeout with -timeout_error:
    exit code 255), and is killed if it still runs KILL_GRACE_S later. Its SIP and media ports
    are free loopback ports unless ``sip_port``/``media_port`` are given: a UAS test picks
    ``sip_port`` with ``free_udp_port()`` to tell the bridge where to call, and passes
    ``ready``, which is set once sipp has bound that port. The logs and any files sipp writes
    go to a temporary directory, also the working directory unless ``cwd`` is given; it has a
    ``pcap`` link to PCAP_DIR so that uac_pcap finds its audio (playing pcap needs root or
    CAP_NET_RAW: sipp sends it from a raw socket)."""
    scenario_args, declared = _scenario(scenario)
    given = dict(variables or {})
    if missing := declared - given.keys():
        raise ValueError(f"{scenario}: no value for the variable(s) {sorted(missing)}")
    if unknown := given.keys() - declared:
        raise ValueError(f"{scenario}: declares no variable(s) {sorted(unknown)}")

    # Each probe socket is closed before the next one is opened, so the kernel may hand out a
    # port twice; draw again until sipp's four ports differ. The control port is for sipp's
    # remote control socket, which would otherwise be 0.0.0.0:8888 (or the next free one).
    for _ in range(100):
        sip = sip_port or free_udp_port()
        media = media_port or free_udp_port(pair=True)
        control_port = free_udp_port()
        if len({sip, media, media + 2, control_port}) == 4:
            sip_port, media_port = sip, media
            break
    else:
        raise ValueError(f"sip_port {sip_port} clashes with media ports {media_port} and +2")
    with tempfile.TemporaryDirectory(prefix="sipp-") as tmp:
        logs = Path(tmp)
        _link_pcap(logs)
        argv = [SIPP, *([target] if target else []), *scenario_args]
        argv += ["-i", HOST, "-p", str(sip_port), "-mp", str(media_port)]
        argv += ["-ci", HOST, "-cp", str(control_port)]
        argv += ["-m", str(calls)]
        if concurrent is not None:
            argv += ["-l", str(concurrent)]
        if rate is not None:
            argv += ["-r", str(rate)]
        # sipp arms alarm(seconds) with whole seconds (0 would be no timeout at all), and
        # without -timeout_error the timeout only asks sipp to quit once its calls end.
        sipp_timeout_s = max(1, math.ceil(timeout_s))
        argv += ["-timeout", f"{sipp_timeout_s}s", "-timeout_error", "-nostdin"]
        argv += ["-trace_err", "-error_file", str(logs / "errors.log")]
        argv += ["-trace_msg", "-message_file", str(logs / "messages.log")]
        for name, value in given.items():
            argv += ["-set", name, value]
        argv += list(extra)

        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd or logs,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        # Read both pipes all along: sipp would stall on a full pipe, and a kill must not
        # lose what was already printed.
        readers = [asyncio.create_task(pipe.read()) for pipe in (proc.stdout, proc.stderr)]
        watcher = asyncio.create_task(_signal_bound(proc, sip_port, ready)) if ready else None
        try:
            try:
                returncode = await asyncio.wait_for(proc.wait(), sipp_timeout_s + KILL_GRACE_S)
            except TimeoutError:
                proc.kill()
                returncode = await proc.wait()
            stdout, stderr = [
                data.decode(errors="replace") for data in await asyncio.gather(*readers)
            ]
        finally:
            # Cancelled (the test gave up): sipp must not outlive it.
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            for task in [*readers, *([watcher] if watcher else [])]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        messages, errors = await asyncio.to_thread(
            lambda: [_read(logs / name) for name in ("messages.log", "errors.log")]
        )
    return SippResult(
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        messages=messages,
        errors=errors,
        sip_port=sip_port,
        media_port=media_port,
    )


def _scenario(scenario: str | Path) -> tuple[list[str], set[str]]:
    """sipp's arguments for ``scenario`` and the variables it declares."""
    if isinstance(scenario, str) and "/" not in scenario and not scenario.endswith(".xml"):
        return ["-sn", scenario], set()  # built-in scenarios declare no variables
    path = Path(scenario).resolve()  # absolute: sipp runs in another directory
    declared = {
        name.strip()
        for found in _GLOBAL_VARS.findall(path.read_text(encoding="latin-1"))
        for name in found.split(",")
        if name.strip()
    }
    return ["-sf", str(path)], declared


async def _signal_bound(proc: asyncio.subprocess.Process, port: int, ready: asyncio.Event) -> None:
    """Set ``ready`` once sipp has bound UDP ``port``. Linux's socket table is read rather than
    trying to bind the port, which could make sipp's own bind fail."""
    while proc.returncode is None:
        if _udp_bound(port):
            ready.set()
            return
        await asyncio.sleep(0.02)


def _udp_bound(port: int) -> bool:
    wanted = f":{port:04X}"
    with open("/proc/net/udp", encoding="ascii") as table:
        return any(line.split()[1].endswith(wanted) for line in list(table)[1:])


def _link_pcap(directory: Path) -> None:
    if PCAP_DIR.is_dir():
        (directory / "pcap").symlink_to(PCAP_DIR)


def _scenario_screen(stdout: str) -> str:
    """The last "Scenario Screen" sipp printed: a row per step with its counters."""
    start = stdout.rfind("Scenario Screen")
    if start < 0:
        return ""
    end = stdout.find("Test Terminated", start)
    return stdout[start : end if end >= 0 else None]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
