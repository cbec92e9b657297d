"""Serving the federation on real ports: each app in its own threaded WSGI
server, plus the SMTP sink and the web mailbox. Used by ``fedsim up`` and by
the browser tests."""
from __future__ import annotations

import errno
import socket
import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, make_server

from fedsim import trust
from fedsim.federation import Settings
from fedsim.mailbox import sink
from fedsim.mailbox.app import create_app as create_mailbox
from fedsim_harness.stack import APP_NAMES, create_apps, mailbox_sessions

BIND_HOST = "127.0.0.1"


class PortTaken(RuntimeError):
    pass


def ports(settings: Settings) -> dict[str, int]:
    return {"monespace": settings.monespace_port, "idp_csam": settings.csam_port,
            "modigia_sp": settings.modigia_port, "mailbox": settings.mailbox_port, "smtp": settings.smtp_port}


def check_ports(settings: Settings) -> None:
    """Refuse to start when any port is taken, naming it and how to change it."""
    env = {"monespace": "FEDSIM_MONESPACE_PORT", "idp_csam": "FEDSIM_CSAM_PORT",
           "modigia_sp": "FEDSIM_MODIGIA_PORT", "mailbox": "FEDSIM_MAILBOX_PORT", "smtp": "FEDSIM_SMTP_PORT"}
    for name, port in ports(settings).items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((BIND_HOST, port))
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    raise PortTaken(f"Le port {port} ({name}) est déjà utilisé. Arrêtez le programme qui "
                                    f"l'occupe, ou choisissez un autre port : {env[name]}=<port>.") from None
                raise


@dataclass
class ServedFederation:
    settings: Settings
    servers: dict[str, BaseWSGIServer] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    smtp: object = None

    @property
    def urls(self) -> dict[str, str]:
        return {name: self.settings.base_url(name) for name in (*APP_NAMES, "mailbox")}

    def start(self) -> "ServedFederation":
        check_ports(self.settings)
        trust.ensure(self.settings)
        sessions = mailbox_sessions(self.settings)
        self.smtp = sink.start(sessions, BIND_HOST, self.settings.smtp_port)
        apps = create_apps(self.settings, self.settings.smtp_port)
        apps["mailbox"] = create_mailbox(sessions)
        for name, app in apps.items():
            server = make_server(BIND_HOST, ports(self.settings)[name], app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, name=f"fedsim-{name}", daemon=True)
            thread.start()
            self.servers[name], self.threads = server, [*self.threads, thread]
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        if self.smtp is not None:
            self.smtp.stop()
