"""One structured log line per SAML protocol step, on logger ``fedsim.protocol``.

A line is ``key=value`` pairs, values JSON-quoted, in a fixed order::

    event="AuthnRequest" outcome="refused" correlation_id="3f9c0a1b2d4e" message_id="id-…"
    issuer="https://sp…" destination="https://idp…" binding="HTTP-Redirect" reason="Signature absente…"

The correlation id ties together the lines of one browser session: a short
hash of the server-side session id (``fedsim.sessions``; the id itself,
which is the cookie, is never logged), or a random id for a request without
session. ``configure(app)`` (called by ``fedsim.web.configure_shared``) sets
it on ``flask.g`` for every request and echoes it in ``X-Correlation-Id``.
The record also carries the fields as ``record.protocol`` (a dict).
``subscribe(receive)`` gives every step's record to a function (the trainer
console's live trace, fedsim_harness.trainer).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import json.encoder
import logging
import os
import re
import secrets
from collections.abc import Callable

from flask import Flask, Response, g, has_request_context, session

logger = logging.getLogger("fedsim.protocol")
_encode_string = json.encoder.encode_basestring  # what json.dumps(text, ensure_ascii=False) returns

HEADER = "X-Correlation-Id"
NO_REQUEST = "-"  # the correlation id outside a request (tools, tests)
_ROOT_ID = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*\s[^>]*?\bID=\"([^\"<>]{1,200})\"")


def correlation_for(session_id: str | None) -> str:
    """A short, one-way tag of a session id (domain-separated from the
    database's SHA-256 of it); a random one when there is no session."""
    if not session_id:
        return secrets.token_hex(6)
    return hashlib.sha256(b"fedsim-correlation\x00" + session_id.encode()).hexdigest()[:12]


def correlation_id() -> str:
    """The current request's correlation id (made on first use)."""
    if not has_request_context():
        return NO_REQUEST
    if "correlation_id" not in g:
        g.correlation_id = correlation_for(getattr(session, "session_id", None))
    return g.correlation_id


def binding_name(binding: str) -> str:
    """``urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST`` → ``HTTP-POST``."""
    return binding.rsplit(":", 1)[-1]


def _level(outcome: str) -> int:
    return logging.WARNING if outcome == "refused" else logging.INFO


def wanted(outcome: str) -> bool:
    """Whether a step with this outcome reaches anybody (a handler, a
    subscriber): when not, a caller may spare the work of naming it."""
    return logger.isEnabledFor(_level(outcome))


def log_step(event: str, *, message_id: str, issuer: str, destination: str, binding: str, outcome: str,
             reason: str = "") -> None:
    """Log one protocol step: ``event`` (AuthnRequest, Response,
    LogoutRequest, LogoutResponse), ``outcome`` (accepted, refused, issued,
    sent, received); ``reason`` says precisely why a message was refused.
    Refusals are warnings, the rest info."""
    if not wanted(outcome):
        return  # what logger.log would do: nobody (no handler, no subscriber) gets it
    level = _level(outcome)
    fields = {"event": event, "outcome": outcome, "correlation_id": correlation_id(),
              "message_id": message_id or "", "issuer": issuer or "", "destination": destination or "",
              "binding": binding_name(binding or ""), "reason": (reason or "")[:800]}
    line = " ".join(f"{key}={_quoted(value)}" for key, value in fields.items())
    logger.log(level, line, extra={"protocol": fields})


def _quoted(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False)``; for a string (every field),
    the encoder's own string function without building an encoder."""
    return _encode_string(value) if type(value) is str else json.dumps(value, ensure_ascii=False)


def refusal(reason: str, detail: str = "") -> str:
    """The text of a refusal for the log: the reason, then its technical detail."""
    return f"{reason} ({detail})" if detail else reason


def peek(xml: bytes | str | None) -> tuple[str, str]:
    """(ID of the root element, its saml:Issuer) of a message that may be
    unreadable or hostile, for the log only: a bounded regex, no parser."""
    if not xml:
        return "", ""
    data = (xml.encode("utf-8", "replace") if isinstance(xml, str) else xml)[:64 * 1024]
    found = _ROOT_ID.search(data)
    issuer = re.search(rb"<(?:[A-Za-z_][\w.-]*:)?Issuer\b[^>]*>\s*([^<\s]{1,300})\s*<", data)
    return (found.group(1).decode("utf-8", "replace") if found else "",
            issuer.group(1).decode("utf-8", "replace") if issuer else "")


_level_before: list[int] = []  # the logger's level before the first subscriber


def subscribe(receive: Callable[[logging.LogRecord], None]) -> Callable[[], None]:
    """Give every protocol step's record to ``receive`` (the trainer
    console's live trace, fedsim_harness.trainer); returns the function that
    unsubscribes it. A filter of the logger, not a handler: where the lines
    went before (handlers, or Python's last resort for refusals) they still
    go; the logger keeps info lines while someone subscribes."""
    def _tap(record: logging.LogRecord) -> bool:
        if hasattr(record, "protocol"):
            try:
                receive(record)
            except Exception:  # a subscriber never breaks a protocol step
                logging.getLogger(__name__ + ".subscribers").exception("a protocol log subscriber failed")
        return True

    if not logger.filters:
        _level_before.append(logger.level)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    logger.addFilter(_tap)

    def unsubscribe() -> None:
        if _tap not in logger.filters:
            return
        logger.removeFilter(_tap)
        if not logger.filters and _level_before:
            logger.setLevel(_level_before.pop())

    return unsubscribe


TRACE_FILE_VARIABLE = "FEDSIM_TRACE_FILE"
TRACE_FILE_LIMIT = 4 * 1024 * 1024  # bytes; past it the file starts again (it is a live trace, not an archive)


class _TraceFileHandler(logging.Handler):
    """Appends each step as one JSON line (with the federation's time) to
    the file ``FEDSIM_TRACE_FILE`` names now (nothing when unset), a file
    shared by the processes of one federation (``fedsim up`` on gunicorn),
    for the trainer console's trace. One ``write`` per line on a file opened
    in append mode: lines of several processes do not mix."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        path = os.environ.get(TRACE_FILE_VARIABLE)
        fields = getattr(record, "protocol", None)
        if not path or fields is None:
            return
        from fedsim import clock

        line = json.dumps({"time": clock.now().isoformat(timespec="seconds"), **fields}, ensure_ascii=False)
        try:
            with open(path, "a", encoding="utf-8") as trace:
                if trace.tell() > TRACE_FILE_LIMIT:
                    trace.truncate(0)
                trace.write(line + "\n")
        except OSError:
            pass  # a trace that cannot be written never fails a protocol step


def write_to_trace_file() -> None:
    """When ``FEDSIM_TRACE_FILE`` is set, append every step to the file it
    names (one handler per process; called by each app's factory through
    ``configure``)."""
    if not os.environ.get(TRACE_FILE_VARIABLE) or any(isinstance(h, _TraceFileHandler) for h in logger.handlers):
        return
    logger.addHandler(_TraceFileHandler())
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)


def read_trace_file(limit: int = 200, tail_bytes: int = 256 * 1024) -> list[dict]:
    """The last ``limit`` steps of the shared trace file, newest first."""
    path = os.environ.get(TRACE_FILE_VARIABLE)
    if not path:
        return []
    try:
        with open(path, "rb") as trace:
            start = max(trace.seek(0, os.SEEK_END) - tail_bytes, 0)
            trace.seek(start)
            lines = trace.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    steps = []
    for line in reversed(lines[1:] if start else lines):  # the first line may be cut by the seek
        try:
            steps.append(json.loads(line))
        except ValueError:
            continue
        if len(steps) == limit:
            break
    return steps


def clear_trace_file() -> None:
    path = os.environ.get(TRACE_FILE_VARIABLE)
    if path:
        with contextlib.suppress(OSError), open(path, "w", encoding="utf-8"):
            pass


def configure(app: Flask) -> None:
    """Make a correlation id per request and echo it in ``X-Correlation-Id``
    (and append the steps to the shared trace file, when there is one)."""
    write_to_trace_file()
    @app.before_request
    def _correlation() -> None:
        correlation_id()

    @app.after_request
    def _correlation_header(response: Response) -> Response:
        response.headers.setdefault(HEADER, correlation_id())
        return response
