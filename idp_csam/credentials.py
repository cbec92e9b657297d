"""CSAM usernames and passwords: the first factor of the e-mail code and app
code methods (G05, G06, G21). Repeated failures lock the account for a while;
the one refusal message says so without telling whether an account exists."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fedsim import attempts
from fedsim.passwords import (
    generate_password_hash,
)
from fedsim.personas import Persona
from idp_csam.i18n import gettext as _
from idp_csam.models import Base, Citizen


class CsamAccount(Base):
    __tablename__ = "csam_account"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    nrn: Mapped[str] = mapped_column(ForeignKey("citizen.nrn"), unique=True)  # NRN or BIS number
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]


class PasswordRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Credentials:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)

    @staticmethod
    def create(db: Session, username: str, nrn: str, password: str) -> CsamAccount:
        account = CsamAccount(username=username, nrn=nrn, password_hash=generate_password_hash(password))
        db.add(account)
        return account

    def seed(self, db: Session, personas: tuple[Persona, ...]) -> None:
        """Personas with a CSAM username and password (missing ones only)."""
        for persona in personas:
            if persona.csam and db.get(CsamAccount, persona.csam.username) is None:
                self.create(db, persona.csam.username, persona.nrn, persona.csam.password)
        db.commit()

    def verify(self, db: Session, username: str, password: str) -> Citizen:
        """The citizen behind a correct username + password, else PasswordRefused.

        Every refusal says the same thing, whether the username is unknown,
        the password wrong or the account locked, and costs one hash check
        (a dummy one for unknown or locked accounts): neither the text nor
        the time tells whether an account exists. The lockout is announced
        in that one message, for any username. Each check first claims one
        of ``max_failures`` tries in the database (``fedsim.attempts``); the
        claim that uses the last one locks the account for ``lockout``.
        """
        account = db.get(CsamAccount, (username or "").strip())
        key = CsamAccount.username == account.username if account is not None else None
        if not self._password.check(db, key, account.password_hash if account else None, password):
            raise PasswordRefused(self.refusal)
        db.refresh(account)
        return db.get(Citizen, account.nrn)

    @property
    def _password(self) -> attempts.LockedPassword:
        return attempts.LockedPassword(CsamAccount.password_hash, CsamAccount.failed_logins,
                                       CsamAccount.locked_until, self.max_failures, self.lockout)

    @property
    def refusal(self) -> str:
        minutes = int(self.lockout.total_seconds() // 60)
        return _("Nom d'utilisateur ou mot de passe incorrect. Après %(tries)d essais infructueux, "
                 "le compte est bloqué pendant %(minutes)d minutes : réessayez plus tard.",
                 tries=self.max_failures, minutes=minutes)


def by_username(db: Session, username: str) -> CsamAccount | None:
    return db.scalars(select(CsamAccount).where(CsamAccount.username == username)).first()
