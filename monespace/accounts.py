"""Account lifecycle (annex II of the guide): create a pending account, mail
the activation links, activate (which creates the Cerbère Citoyen
identifier), cancel, resend."""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from flask import render_template
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.mail import Mailer
from fedsim.personas import Persona
from monespace.identity import UpstreamIdentity
from monespace.models import Account, ActivationLink, Document, Dossier, Notification


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class LoginRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LinkRefused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z]", "", "".join(c for c in folded if not unicodedata.combining(c)).lower())


@dataclass(frozen=True)
class AccountService:
    mailer: Mailer
    base_url: str
    link_lifetime: timedelta

    @staticmethod
    def by_nrn(db: Session, nrn: str) -> Account | None:
        return db.scalars(select(Account).where(Account.nrn == nrn)).first()

    def create_pending(self, db: Session, who: UpstreamIdentity, email: str, language: str) -> Account:
        if self.by_nrn(db, who.nrn) is not None:
            raise LinkRefused("Un compte Mon Espace existe déjà pour cette personne.", 409)
        account = Account(nrn=who.nrn, given_name=who.given_name, surname=who.surname, email=email.strip(),
                          language=language, status="pending", contexts=["Citoyen"],
                          created_at=clock.naive_utc_now())
        db.add(account)
        db.flush()
        self._mail_links(db, account)
        db.commit()
        return account

    def resend(self, db: Session, email: str) -> None:
        """Send new links to a pending account with this address, if any.
        Says nothing either way, so addresses cannot be probed."""
        account = db.scalars(select(Account).where(
            Account.email == email.strip(), Account.status == "pending")).first()
        if account is not None:
            self._mail_links(db, account)
            db.commit()

    def activate(self, db: Session, token: str | None) -> Account:
        link = self._usable(db, token, "activate")
        account = link.account
        now = clock.naive_utc_now()
        for other in account.links:
            other.used_at = other.used_at or now
        account.status, account.activated_at = "active", now
        account.cerbere_username = self._new_username(db, account)
        db.commit()
        return account

    def cancel(self, db: Session, token: str | None) -> str:
        link = self._usable(db, token, "cancel")
        name = link.account.full_name
        db.delete(link.account)
        db.commit()
        return name

    @staticmethod
    def set_password(db: Session, account: Account, password: str) -> None:
        account.cerbere_password_hash = generate_password_hash(password)
        account.failed_logins, account.locked_until = 0, None
        db.commit()

    @staticmethod
    def password_login(db: Session, username: str, password: str) -> Account:
        """A direct Cerbère Citoyen login. Five wrong passwords lock the
        account for 15 minutes; the message says until when."""
        account = db.scalars(select(Account).where(Account.cerbere_username == (username or "").strip())).first()
        refused = "Nom d'utilisateur ou mot de passe incorrect."
        if account is None or not account.is_active or account.cerbere_password_hash is None:
            raise LoginRefused(refused)
        now = clock.naive_utc_now()
        if account.locked_until is not None and account.locked_until > now:
            raise LoginRefused(f"Compte verrouillé après {MAX_FAILED_LOGINS} essais infructueux, "
                               f"jusqu'à {account.locked_until:%H:%M} (heure UTC).")
        if not check_password_hash(account.cerbere_password_hash, password or ""):
            account.failed_logins += 1
            if account.failed_logins >= MAX_FAILED_LOGINS:
                account.failed_logins, account.locked_until = 0, now + LOCKOUT
                db.commit()
                raise LoginRefused(f"Compte verrouillé après {MAX_FAILED_LOGINS} essais infructueux, "
                                   f"jusqu'à {account.locked_until:%H:%M} (heure UTC).")
            db.commit()
            raise LoginRefused(refused)
        account.failed_logins, account.locked_until = 0, None
        db.commit()
        return account

    @staticmethod
    def seed(db: Session, personas: tuple[Persona, ...]) -> None:
        """Personas that already have an active account (missing ones only)."""
        for persona in personas:
            if persona.monespace is None or AccountService.by_nrn(db, persona.nrn) is not None:
                continue
            now = clock.naive_utc_now()
            account = Account(nrn=persona.nrn, given_name=persona.given_name, surname=persona.surname,
                              email=persona.email, language=persona.language, status="active",
                              cerbere_username=persona.monespace.cerbere_username,
                              contexts=list(persona.monespace.contexts), created_at=now, activated_at=now)
            account.dossiers = [Dossier(title=t, created_at=now) for t in persona.monespace.dossiers]
            account.documents = [Document(title=t, created_at=now) for t in persona.monespace.documents]
            account.notifications = [Notification(text=t, created_at=now) for t in persona.monespace.notifications]
            db.add(account)
        db.commit()

    # -- internals -----------------------------------------------------------

    def _mail_links(self, db: Session, account: Account) -> None:
        """New activation and cancel links; any older ones stop working."""
        for old in list(account.links):
            db.delete(old)
        expires = clock.naive_utc_now() + self.link_lifetime
        urls = {}
        for kind, path in (("activate", "/compte/activer"), ("cancel", "/compte/annuler")):
            token = secrets.token_urlsafe(32)
            db.add(ActivationLink(token_hash=_hash(token), account=account, kind=kind, expires_at=expires))
            urls[kind] = f"{self.base_url}{path}?jeton={token}"
        context = {"account": account, "activate_url": urls["activate"], "cancel_url": urls["cancel"]}
        self.mailer.send(account.email, "Activation de votre compte Mon Espace",
                         render_template("monespace/mail/activation.txt", **context),
                         render_template("monespace/mail/activation.html", **context))

    @staticmethod
    def _usable(db: Session, token: str | None, kind: str) -> ActivationLink:
        link = db.get(ActivationLink, _hash(token)) if token else None
        if link is None or link.kind != kind:
            raise LinkRefused("Ce lien n'est pas valide : vérifiez que vous avez copié le lien complet "
                              "de l'e-mail, et utilisez le dernier e-mail reçu (un renvoi remplace les "
                              "liens précédents).", 404)
        if link.used_at is not None:
            raise LinkRefused("Ce lien a déjà été utilisé. Si votre compte est actif, connectez-vous ; "
                              "sinon demandez un nouvel e-mail d'activation.", 410)
        if link.expires_at < clock.naive_utc_now():
            raise LinkRefused("Ce lien a expiré. Demandez un nouvel e-mail d'activation avec "
                              "« Renvoyer l'e-mail ».", 410)
        return link

    @staticmethod
    def _new_username(db: Session, account: Account) -> str:
        base = (_ascii(account.given_name)[:1] + _ascii(account.surname))[:20] or "citoyen"
        candidate, n = base, 1
        while db.scalars(select(Account).where(Account.cerbere_username == candidate)).first():
            n += 1
            candidate = f"{base}{n}"
        return candidate
