"""Building the whole federation: the three apps, the mail sink and the
mailbox, for ``fedsim up`` (real ports) and for in-process runs (WSGI, no
ports but the SMTP sink's). An in-process federation can be put back to the
state it was built in (``Federation.reset``), to run scenario after scenario
on one federation."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import sessionmaker

from fedsim import trust
from fedsim.db import make_engine, migrate, migrations_of
from fedsim.federation import Settings
from fedsim.mailbox import sink
from fedsim.mailbox.app import create_app as create_mailbox
from fedsim.mailbox.store import MailboxBase
from fedsim_harness import admin, admin_sps
from fedsim_harness.reset import FederationSnapshot

APP_NAMES = ("monespace", "idp_csam", "modigia_sp")


def mailbox_sessions(settings: Settings, url: str | None = None) -> sessionmaker:
    url = url or f"sqlite:///{settings.instance_dir / 'mailbox' / 'mailbox.sqlite3'}"
    engine = make_engine(url)
    migrate(engine, migrations_of("fedsim.mailbox"), [MailboxBase.metadata])
    return sessionmaker(engine, expire_on_commit=False)


def create_apps(settings: Settings, smtp_port: int, overrides: dict[str, dict] | None = None) -> dict[str, Flask]:
    """The three apps, created by their own factories (imported by name:
    this module is the only place that knows all three)."""
    import idp_csam
    import modigia_sp
    import monespace

    overrides = overrides or {}
    for name in APP_NAMES:
        (settings.instance_dir / name).mkdir(mode=0o700, parents=True, exist_ok=True)
        (settings.instance_dir / name).chmod(0o700)
    common = {"FEDSIM_SETTINGS": settings}
    return {
        "idp_csam": idp_csam.create_app({**common, "SMTP_PORT": smtp_port, **overrides.get("idp_csam", {})}),
        "monespace": monespace.create_app({**common, "SMTP_PORT": smtp_port, **overrides.get("monespace", {})}),
        "modigia_sp": modigia_sp.create_app({**common, "SMTP_PORT": smtp_port, **overrides.get("modigia_sp", {})}),
    }


@dataclass
class Federation:
    """A running federation: apps by name, keyed also by their base URL."""
    settings: Settings
    apps: dict[str, Flask]
    mailbox: Flask
    smtp: object  # aiosmtpd Controller
    urls: dict[str, str] = field(default_factory=dict)
    snapshot: FederationSnapshot | None = None  # its state once built and seeded

    def reset(self) -> float:
        """Back to the state it was built in (see fedsim_harness.reset);
        returns the milliseconds it took."""
        if self.snapshot is None:
            raise RuntimeError("this federation was built without a snapshot: it cannot be reset")
        return self.snapshot.restore()

    def wsgi_by_netloc(self) -> dict[str, Flask]:
        from urllib.parse import urlsplit
        table = {urlsplit(self.settings.base_url(n)).netloc: app for n, app in self.apps.items()}
        table[urlsplit(self.settings.base_url("mailbox")).netloc] = self.mailbox
        return table

    def close(self) -> None:
        self.smtp.stop()


def start_in_process(root: Path, *, testing: bool = True, overrides: dict[str, dict] | None = None,
                     instance_dir: Path | None = None) -> Federation:
    """A complete federation under ``root`` (certs, databases), served to
    WSGI clients; only the SMTP sink listens, on a free loopback port.
    Keys in ``root/certs`` are reused when present."""
    settings = dataclasses.replace(Settings(), certs_dir=root / "certs",
                                   instance_dir=instance_dir or root / "instance")
    trust.ensure(settings)
    sessions = mailbox_sessions(settings)
    smtp = sink.start(sessions, "127.0.0.1", 0)
    extra = {"TESTING": testing} if testing else {}
    merged = {name: {**extra, **(overrides or {}).get(name, {})} for name in APP_NAMES}
    apps = create_apps(settings, sink.bound_port(smtp), merged)
    federation = Federation(settings, apps, create_mailbox(sessions), smtp,
                            {n: settings.base_url(n) for n in (*APP_NAMES, "mailbox")},
                            FederationSnapshot.take(apps, sessions))
    admin.install(federation.mailbox, federation.reset)
    admin_sps.install(federation.mailbox, apps)  # GET/POST /admin/sps, from this machine only
    return federation
