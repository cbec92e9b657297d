"""CSAM usernames and passwords: the first factor of the e-mail code and app
code methods (G05, G06, G21). Repeated failures lock the account for a while,
and the refusal says until when."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from fedsim import clock
from fedsim.personas import Persona
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
        """The citizen behind a correct username + password, else PasswordRefused."""
        refused = "Nom d'utilisateur ou mot de passe incorrect."
        account = db.get(CsamAccount, (username or "").strip())
        if account is None:
            raise PasswordRefused(refused)
        now = clock.naive_utc_now()
        if account.locked_until is not None and account.locked_until > now:
            raise PasswordRefused(self._locked(account))
        if not check_password_hash(account.password_hash, password or ""):
            account.failed_logins += 1
            if account.failed_logins >= self.max_failures:
                account.failed_logins, account.locked_until = 0, now + self.lockout
                db.commit()
                raise PasswordRefused(self._locked(account))
            db.commit()
            raise PasswordRefused(refused)
        account.failed_logins, account.locked_until = 0, None
        db.commit()
        return db.get(Citizen, account.nrn)

    def _locked(self, account: CsamAccount) -> str:
        return (f"Compte bloqué après {self.max_failures} essais infructueux, jusqu'à "
                f"{account.locked_until:%d/%m/%Y %H:%M} (heure UTC).")


def by_username(db: Session, username: str) -> CsamAccount | None:
    return db.scalars(select(CsamAccount).where(CsamAccount.username == username)).first()
