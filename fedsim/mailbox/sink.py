"""SMTP sink on aiosmtpd: every message accepted and stored."""
from __future__ import annotations

import socket

from aiosmtpd.controller import Controller
from sqlalchemy.orm import sessionmaker

from fedsim import clock
from fedsim.mailbox.store import StoredMessage, header, parse


class StoreHandler:
    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001 - aiosmtpd protocol
        # Stored as text: bytes that are not UTF-8 become U+FFFD, never an error.
        raw = envelope.content.decode("utf-8", errors="replace")
        subject = header(parse(raw), "Subject")
        with self.sessions() as db:
            db.add(StoredMessage(received_at=clock.naive_utc_now(), mail_from=envelope.mail_from or "",
                                 rcpt_tos=",".join(r.lower() for r in envelope.rcpt_tos),
                                 subject=subject, raw=raw))
            db.commit()
        return "250 Message accepted for delivery"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start(sessions: sessionmaker, host: str, port: int) -> Controller:
    """Start the sink in its own thread; ``port=0`` picks a free port
    (read it back with ``bound_port``)."""
    controller = Controller(StoreHandler(sessions), hostname=host, port=port or free_port(host))
    controller.start()
    return controller


def bound_port(controller: Controller) -> int:
    return controller.server.sockets[0].getsockname()[1]
