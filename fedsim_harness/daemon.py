"""The federation as a background process, and finding it again: the pid
file of ``fedsim up`` (foreground or ``--detach``), ``fedsim wait`` and
``fedsim down``, and the one-line « no federation is running » that every
command needing a running federation gives instead of a traceback.

The pid file, ``<instance_dir>/fedsim.pid``, is JSON (pid, URLs, ports,
bind address, log file); a detached federation writes its output to
``<instance_dir>/fedsim.log``. A pid file whose process is gone (or is no
longer a fedsim) is stale: it is ignored and replaced.

For other commands::

    from fedsim_harness import daemon

    daemon.require_running(settings)      # raises NotRunning (one line, exit 1)
    with daemon.reaching(settings):       # requests.ConnectionError -> NotRunning
        requests.get(...)

This module imports no app and no Flask: it is quick to load for
``fedsim wait`` and ``fedsim down``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click
import requests

from fedsim.federation import Settings

PID_FILE = "fedsim.pid"
LOG_FILE = "fedsim.log"
APPS = ("monespace", "idp_csam", "modigia_sp", "mailbox")  # every server that answers GET /health
LABELS = {"monespace": "Mon Espace", "idp_csam": "CSAM", "modigia_sp": "Modigia", "mailbox": "mailbox",
          "smtp": "SMTP sink"}


def pid_path(settings: Settings) -> Path:
    return settings.instance_dir / PID_FILE


def log_path(settings: Settings) -> Path:
    return settings.instance_dir / LOG_FILE


@dataclass(frozen=True)
class RunInfo:
    """A running federation. ``pid`` is None for one that answers but that
    no pid file of this instance folder names (started another way)."""
    pid: int | None
    urls: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    bind: str = ""
    log: str | None = None  # the log file of a detached federation
    detached: bool = False
    started_at: str = ""

    @classmethod
    def of(cls, settings: Settings, pid: int | None, *, detached: bool = False, log: Path | None = None) -> "RunInfo":
        ports = {"monespace": settings.monespace_port, "idp_csam": settings.csam_port,
                 "modigia_sp": settings.modigia_port, "mailbox": settings.mailbox_port, "smtp": settings.smtp_port}
        return cls(pid, {name: settings.base_url(name) for name in APPS}, ports, settings.bind,
                   str(log.resolve()) if log else None, detached,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))


class FedsimError(click.ClickException):
    """A failure the ``fedsim`` command reports in one line, without a
    traceback or an « Error: » prefix, and exit status 1."""

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(self.format_message(), err=True, file=file)


class NotRunning(FedsimError):
    """No federation answers where the settings say it is."""

    def __init__(self, settings: Settings, detail: str = "") -> None:
        super().__init__(f"No federation is running at {settings.base_url('mailbox')}{detail} — "
                         f"start one with `fedsim up` (or `fedsim up --detach`).")
        self.settings = settings


class AlreadyRunning(FedsimError):
    def __init__(self, info: RunInfo) -> None:
        super().__init__(f"A federation is already running (pid {info.pid}, {info.urls['monespace']}/): "
                         f"stop it with `fedsim down`, or use other ports and FEDSIM_INSTANCE_DIR.")
        self.info = info


# --- finding it --------------------------------------------------------------------------------

def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child, just ended: reaped now
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc here: kill(0) is all we know
    return state not in ("Z", "X")


def _is_fedsim(pid: int) -> bool:
    """Whether ``pid`` is a fedsim process (a recycled pid is not), when /proc can tell."""
    try:
        return b"fedsim" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def read(settings: Settings) -> RunInfo | None:
    """What the pid file says, live or not; None without a readable one."""
    try:
        data = json.loads(pid_path(settings).read_text(encoding="utf-8"))
        return RunInfo(**{**data, "pid": int(data["pid"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def recorded(settings: Settings) -> RunInfo | None:
    """The federation the pid file names, if that process still runs. Never
    this process or its parent (a pid recycled in another container: a
    `fedsim down` must not stop itself or its shell)."""
    info = read(settings)
    if info is None or info.pid in (os.getpid(), os.getppid()):
        return None
    return info if alive(info.pid) and _is_fedsim(info.pid) else None


def answers(settings: Settings, timeout: float = 1.0) -> bool:
    """Whether a fedsim mailbox answers ``GET /health`` at the settings' URL."""
    try:
        said = requests.get(f"{settings.base_url('mailbox')}/health", timeout=timeout).json()
    except (requests.RequestException, ValueError):
        return False
    return isinstance(said, dict) and said.get("app") == "mailbox"


def running(settings: Settings) -> RunInfo | None:
    """The running federation: the one of the pid file, else one that answers
    at the settings' URLs (``pid`` None); None when there is none."""
    info = recorded(settings)
    if info is None and answers(settings):
        info = RunInfo(None, {name: settings.base_url(name) for name in APPS})
    return info


def require_running(settings: Settings) -> RunInfo:
    """The running federation, or ``NotRunning``."""
    info = running(settings)
    if info is None:
        raise NotRunning(settings)
    return info


@contextmanager
def reaching(settings: Settings) -> Iterator[None]:
    """Talk to the running federation: a refused connection becomes
    ``NotRunning``, a timeout a one-line ``FedsimError``."""
    try:
        yield
    except requests.ConnectionError as exc:
        if isinstance(exc, requests.ConnectTimeout):
            raise FedsimError(f"The federation at {settings.base_url('mailbox')} did not answer in time.") from None
        raise NotRunning(settings) from None
    except requests.Timeout:
        raise FedsimError(f"The federation at {settings.base_url('mailbox')} did not answer in time.") from None


# --- the pid file ------------------------------------------------------------------------------

def _link(path: Path, info: RunInfo) -> bool:
    """Write the pid file only if there is none (atomically: readers never see half of it)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(asdict(info), indent=1) + "\n", encoding="utf-8")
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def claim(settings: Settings, pid: int, *, detached: bool = False, log: Path | None = None) -> RunInfo:
    """Write the pid file for ``pid``, or ``AlreadyRunning`` when it names another live federation."""
    path = pid_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = RunInfo.of(settings, pid, detached=detached, log=log)
    for _ in range(3):
        if _link(path, info):
            return info
        current = recorded(settings)
        if current is not None and current.pid != pid:
            raise AlreadyRunning(current)
        if current is not None:
            return current
        path.unlink(missing_ok=True)  # stale
    raise FedsimError(f"Could not write {path}: another fedsim keeps replacing it.")


def release(settings: Settings, pid: int) -> None:
    """Remove the pid file if it names ``pid``."""
    info = read(settings)
    if info is not None and info.pid == pid:
        pid_path(settings).unlink(missing_ok=True)


# --- up --detach, down -------------------------------------------------------------------------

def start_detached(settings: Settings) -> RunInfo:
    """Start ``fedsim up`` in a new session in the background, its output to
    the log file, and return at once (``wait_until_up`` to know it is up).
    ``AlreadyRunning``, or ``serve.PortTaken`` naming a taken port."""
    from fedsim_harness.serve import check_ports

    current = recorded(settings)
    if current is not None:
        raise AlreadyRunning(current)
    check_ports(settings)
    log = log_path(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "fedsim_harness.cli", "up", "--pid-file-written"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        return claim(settings, child.pid, detached=True, log=log)
    except FedsimError:
        child.terminate()
        raise


@dataclass(frozen=True)
class Stopped:
    info: RunInfo
    killed: bool  # SIGKILL after it did not stop on SIGTERM in time


def stop(settings: Settings, timeout: float = 10.0) -> Stopped | None:
    """Stop the federation of the pid file: SIGTERM, then SIGKILL after
    ``timeout`` seconds; None when none was running (a stale pid file is removed)."""
    info = recorded(settings)
    if info is None:
        if read(settings) is not None:
            pid_path(settings).unlink(missing_ok=True)
        return None
    killed = False
    try:
        os.kill(info.pid, signal.SIGTERM)
        if not _ended(info.pid, timeout):
            os.kill(info.pid, signal.SIGKILL)
            killed = True
            if not _ended(info.pid, 5.0):
                raise FedsimError(f"The federation (pid {info.pid}) did not stop, even on SIGKILL.")
    except ProcessLookupError:
        pass  # it ended on its own meanwhile
    except PermissionError:
        raise FedsimError(f"Not allowed to stop the federation (pid {info.pid}): it belongs to another user.") \
            from None
    release(settings, info.pid)
    return Stopped(info, killed)


def _ended(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# --- wait --------------------------------------------------------------------------------------

def health(settings: Settings, timeout: float = 2.0) -> dict[str, str]:
    """What is not healthy yet: server name → why, in a few words (empty: all up)."""
    problems = {}
    for name in APPS:
        url = f"{settings.base_url(name)}/health"
        try:
            answer = requests.get(url, timeout=timeout)
            said = answer.json()
        except requests.ConnectionError:
            problems[name] = f"no answer at {url}"
            continue
        except requests.Timeout:
            problems[name] = f"no answer within {timeout:g} s at {url}"
            continue
        except ValueError:
            problems[name] = f"HTTP {answer.status_code} at {url}, not a fedsim health answer"
            continue
        if answer.status_code != 200 or not isinstance(said, dict) or said.get("status") != "ok":
            failing = said.get("checks", {}) if isinstance(said, dict) else {}
            reasons = [f"{check}: {why}" for check, why in failing.items() if why != "ok"]
            problems[name] = f"HTTP {answer.status_code}" + (f", {'; '.join(reasons)}" if reasons else "")
    return problems


def last_line(path: str | Path | None) -> str:
    """The last non-blank line of a log file ('' when there is none)."""
    try:
        with open(path or "", "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    return next((line for line in reversed(lines) if line), "")


def wait_until_up(settings: Settings, timeout: float = 60.0, interval: float = 0.25) -> float:
    """Poll every server's ``/health`` until all answer healthy; the seconds
    it took, or ``FedsimError`` (one line: what is not up, and the log file)
    after ``timeout`` or as soon as the federation's process has ended."""
    started = time.monotonic()
    deadline = started + timeout
    info = None
    while True:
        info = recorded(settings) or (read(settings) if info is None else info)
        problems = health(settings, timeout=max(0.2, min(2.0, deadline - time.monotonic())))
        if not problems:
            return time.monotonic() - started
        if info is not None and not alive(info.pid):
            said = last_line(info.log).rstrip(".")
            raise FedsimError(f"The federation (pid {info.pid}) stopped before it was up"
                              + (f": {said}" if said else "") + (f" (log: {info.log})." if info.log else "."))
        if time.monotonic() >= deadline:
            down = ", ".join(f"{LABELS[name]} ({why})" for name, why in problems.items())
            if info is None:
                hint = f" — no `fedsim up` was started with the instance folder {settings.instance_dir}"
            else:
                hint = f" (pid {info.pid}" + (f", log: {info.log})" if info.log else ")")
            raise FedsimError(f"The federation is not up after {timeout:g} s: {down}{hint}.")
        time.sleep(interval)
