"""The `fedsim` command: help and messages in English, certs and personas
(CliRunner), and the background federation of CI for real — `up --detach`,
`wait`, `/health`, `down` — in subprocesses on free ports."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from fedsim.federation import Settings
from fedsim_harness import daemon
from fedsim_harness.cli import cli
from fedsim_harness.scenario.chromium import free_ports

FEDSIM = Path(sys.executable).with_name("fedsim")
COMMAND = [str(FEDSIM)] if FEDSIM.exists() else [sys.executable, "-m", "fedsim_harness.cli"]
PORT_VARIABLES = ("FEDSIM_MONESPACE_PORT", "FEDSIM_CSAM_PORT", "FEDSIM_MODIGIA_PORT", "FEDSIM_MAILBOX_PORT",
                  "FEDSIM_SMTP_PORT")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """FEDSIM_* variables of a federation of its own: free ports, folders under tmp_path."""
    return {**dict(zip(PORT_VARIABLES, map(str, free_ports(5)))),
            "FEDSIM_INSTANCE_DIR": str(tmp_path / "instance"), "FEDSIM_CERTS_DIR": str(tmp_path / "certs")}


def settings_of(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def fedsim(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `fedsim` command with ``env`` added to this one's."""
    return subprocess.run([*COMMAND, *args], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert "Traceback" not in text
    return lines[0]


def kill_leftover(settings: Settings) -> None:
    """Whatever a failed test left running under these settings."""
    info = daemon.read(settings)
    if info is not None and daemon.alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)


# --- help, certs, personas (in-process) --------------------------------------------------------

def test_help_is_in_english_and_names_the_ci_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Run the simulated SAML federation of Mon Espace, CSAM and Modigia" in result.output
    for command in ("up", "wait", "down", "certs", "personas", "fedsim up --detach"):
        assert command in result.output
    assert "Simulateur" not in result.output and "fédération" not in result.output
    assert CliRunner().invoke(cli, ["-h"]).output == result.output


@pytest.mark.parametrize("command", ["up", "wait", "down", "certs", "personas"])
def test_each_command_has_an_english_help(command: str):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "é" not in result.output.replace("Cerbère", ""), result.output


def test_personas_lists_cards_pins_and_accounts():
    result = CliRunner().invoke(cli, ["personas"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["ID", "NAME", "NRN/BIS", "EID", "CARD", "KEYS", "MON", "ESPACE"]
    naima = next(r for r in rows if r.startswith("naima"))
    assert "85.03.12-154-31" in naima and "592-3841567-21 PIN 1234" in naima and "none yet" in naima
    assert "active (jdupont)" in next(r for r in rows if r.startswith("jean"))
    assert "carte" not in result.output and "compte" not in result.output


def test_certs_makes_keys_and_metadata_and_says_where(tmp_path: Path):
    certs = tmp_path / "certs"
    result = CliRunner().invoke(cli, ["certs"], env={"FEDSIM_CERTS_DIR": str(certs)})
    assert result.exit_code == 0, result.output
    assert "csam-idp" in result.output and "http://localhost:5001/saml/metadata" in result.output
    assert result.output.rstrip().endswith(f"keys and certificates, and metadata, in {certs}")
    assert (certs / "csam-idp.key").exists() and (certs / "modigia-sp.xml").exists()
    key = (certs / "csam-idp.key").read_bytes()
    assert CliRunner().invoke(cli, ["certs"], env={"FEDSIM_CERTS_DIR": str(certs)}).exit_code == 0
    assert (certs / "csam-idp.key").read_bytes() == key, "kept without --force"
    forced = CliRunner().invoke(cli, ["certs", "--force"], env={"FEDSIM_CERTS_DIR": str(certs)})
    assert "new keys and certificates" in forced.output
    assert (certs / "csam-idp.key").read_bytes() != key


# --- refusals in one line (in-process) ---------------------------------------------------------

@pytest.mark.parametrize("args", [["up", "--detach"], ["up"]])
def test_up_refuses_a_taken_port_in_one_line(env: dict[str, str], args: list[str]):
    port = int(env["FEDSIM_CSAM_PORT"])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1
    assert one_line(result.output) == (f"Port {port} (CSAM) is already in use: stop the program that uses it, "
                                       f"or choose another port with FEDSIM_CSAM_PORT=<port>.")
    assert not daemon.pid_path(settings_of(env)).exists()


def test_up_refuses_an_address_it_cannot_listen_on(env: dict[str, str]):
    result = CliRunner().invoke(cli, ["up", "--detach"], env={**env, "FEDSIM_BIND": "203.0.113.77"})
    assert result.exit_code == 1
    line = one_line(result.output)
    assert line.startswith("Cannot listen on 203.0.113.77 port") and "FEDSIM_BIND" in line


def test_down_when_nothing_runs_says_so_and_succeeds(env: dict[str, str]):
    result = CliRunner().invoke(cli, ["down"], env=env)
    assert result.exit_code == 0
    assert one_line(result.output) == "No federation was running."


def test_down_removes_a_stale_pid_file(env: dict[str, str]):
    settings = settings_of(env)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    daemon.claim(settings, gone.pid)
    result = CliRunner().invoke(cli, ["down"], env=env)
    assert result.exit_code == 0 and one_line(result.output) == "No federation was running."
    assert not daemon.pid_path(settings).exists()


def test_down_kills_a_federation_that_ignores_sigterm(env: dict[str, str]):
    settings = settings_of(env)
    code = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\ntime.sleep(60)")
    with subprocess.Popen([sys.executable, "-c", code, "fedsim-test"], stdout=subprocess.PIPE, text=True) as stubborn:
        try:
            assert stubborn.stdout.readline() == "ready\n"
            daemon.claim(settings, stubborn.pid)
            result = CliRunner().invoke(cli, ["down", "--timeout", "0.3"], env=env)
            assert result.exit_code == 0, result.output
            assert one_line(result.output) == (f"The federation (pid {stubborn.pid}) did not stop within 0.3 s: "
                                               f"killed.")
            assert not daemon.alive(stubborn.pid)
            assert not daemon.pid_path(settings).exists()
        finally:
            stubborn.kill()


def test_wait_on_nothing_times_out_in_one_line(env: dict[str, str]):
    result = CliRunner().invoke(cli, ["wait", "--timeout", "0.5"], env=env)
    assert result.exit_code == 1
    line = one_line(result.output)
    assert line.startswith("The federation is not up after 0.5 s: Mon Espace (no answer at http://localhost:")
    assert "CSAM (" in line and "Modigia (" in line and "mailbox (" in line
    assert f"instance folder {env['FEDSIM_INSTANCE_DIR']}" in line


def test_wait_on_a_federation_that_died_fails_at_once_with_its_last_words(env: dict[str, str]):
    settings = settings_of(env)
    log = daemon.log_path(settings)
    log.parent.mkdir(parents=True)
    log.write_text("starting\nPort 5001 (CSAM) is already in use: stop the program that uses it.\n\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    daemon.claim(settings, dead.pid, detached=True, log=log)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["wait", "--timeout", "30"], env=env)
    assert time.monotonic() - started < 10, "did not wait for the timeout"
    assert result.exit_code == 1
    assert one_line(result.output) == (f"The federation (pid {dead.pid}) stopped before it was up: Port 5001 (CSAM) "
                                       f"is already in use: stop the program that uses it (log: {log.resolve()}).")


def test_not_running_helper_gives_one_friendly_line(env: dict[str, str]):
    settings = settings_of(env)
    assert daemon.running(settings) is None
    with pytest.raises(daemon.NotRunning) as caught:
        daemon.require_running(settings)
    message = caught.value.format_message()
    assert message == (f"No federation is running at {settings.base_url('mailbox')} — start one with "
                       f"`fedsim up` (or `fedsim up --detach`).")
    with pytest.raises(daemon.NotRunning), daemon.reaching(settings):
        requests.get(f"{settings.base_url('mailbox')}/api/messages", timeout=2)


# --- the real thing, in subprocesses -----------------------------------------------------------

def test_detached_federation_up_wait_health_down(env: dict[str, str]):
    settings = settings_of(env)
    try:
        started = time.monotonic()
        up = fedsim(env, "up", "--detach")
        assert up.returncode == 0, up.stderr
        assert time.monotonic() - started < 30
        assert f"Mon Espace (start here)  http://localhost:{env['FEDSIM_MONESPACE_PORT']}/" in up.stdout
        assert f"Mailbox                  http://localhost:{env['FEDSIM_MAILBOX_PORT']}/" in up.stdout
        info = json.loads(daemon.pid_path(settings).read_text())
        assert info["detached"] is True and info["log"] == str(daemon.log_path(settings).resolve())
        assert info["ports"]["smtp"] == int(env["FEDSIM_SMTP_PORT"]) and daemon.alive(info["pid"])

        again = fedsim(env, "up", "--detach")
        assert again.returncode == 1
        assert one_line(again.stderr).startswith(f"A federation is already running (pid {info['pid']}")
        assert json.loads(daemon.pid_path(settings).read_text())["pid"] == info["pid"]

        waited = fedsim(env, "wait", "--timeout", "90")
        assert waited.returncode == 0, waited.stderr
        assert one_line(waited.stdout).startswith("The federation is up (")

        for name, entities in (("monespace", 2), ("idp_csam", 3), ("modigia_sp", 1)):
            answer = requests.get(f"{settings.base_url(name)}/health", timeout=5)
            assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
            assert answer.json()["status"] == "ok" and answer.json()["app"] == name
            assert len(answer.json()["entity_ids"]) == entities
            assert answer.json()["checks"] == {"database": "ok"}
        mailbox = requests.get(f"{settings.base_url('mailbox')}/health", timeout=5).json()
        assert mailbox["status"] == "ok" and mailbox["app"] == "mailbox"
        assert set(mailbox["checks"]) == {"mailbox database", "smtp", "monespace database",
                                          "idp_csam database", "modigia_sp database"}

        down = fedsim(env, "down")
        assert down.returncode == 0, down.stderr
        assert one_line(down.stdout) == f"The federation (pid {info['pid']}) stopped."
        assert not daemon.pid_path(settings).exists() and not daemon.alive(info["pid"])
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{settings.base_url('monespace')}/health", timeout=2)
        assert "Stopped." in daemon.log_path(settings).read_text()

        twice = fedsim(env, "down")
        assert twice.returncode == 0 and one_line(twice.stdout) == "No federation was running."
    finally:
        kill_leftover(settings)


def test_foreground_up_writes_the_pid_file_and_down_stops_it(env: dict[str, str]):
    settings = settings_of(env)
    foreground = subprocess.Popen([*COMMAND, "up"], env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert fedsim(env, "wait", "--timeout", "90").returncode == 0
        info = daemon.read(settings)
        assert info is not None and info.pid == foreground.pid and info.detached is False and info.log is None
        down = fedsim(env, "down")
        assert one_line(down.stdout) == f"The federation (pid {foreground.pid}) stopped."
        output, _ = foreground.communicate(timeout=30)
        assert foreground.returncode == 0, output
        assert "The federation is running. Start here:" in output and output.rstrip().endswith("Stopped.")
        assert not daemon.pid_path(settings).exists()
    finally:
        foreground.kill()
        foreground.wait()


def test_wait_on_a_dead_federation_in_a_subprocess_gives_one_line(env: dict[str, str]):
    result = fedsim(env, "wait", "--timeout", "1")
    assert result.returncode == 1
    assert one_line(result.stderr).startswith("The federation is not up after 1 s:")
    assert result.stdout == ""
