"""Account lifecycle (annex II of the guide): create a pending account, mail
the activation links, activate (which creates the Cerbère Citoyen
identifier), cancel, resend.

Every step that must happen once claims its row with one conditional
``UPDATE … WHERE …`` whose row count says who won (``fedsim.attempts`` for
the password tries): the same link opened five times at once activates one
account once, the same form posted twice creates one account, and no race
ends in a database error."""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from flask import render_template
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fedsim import attempts, clock
from fedsim.mail import Mailer
from fedsim.passwords import (
    generate_password_hash,
)
from fedsim.personas import Persona
from monespace.identity import UpstreamIdentity
from monespace.models import ACTIVE, PENDING, Account, ActivationLink, Document, Dossier, Notification

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD = attempts.LockedPassword(Account.cerbere_password_hash, Account.failed_logins, Account.locked_until,
                                   MAX_FAILED_LOGINS, LOCKOUT)
# The one answer to every refused Cerbère password login: unknown username,
# wrong password or locked account alike (the lockout is announced to all).
REFUSAL = (f"Nom d'utilisateur ou mot de passe incorrect. Après {MAX_FAILED_LOGINS} essais infructueux, "
           f"le compte est bloqué pendant {int(LOCKOUT.total_seconds() // 60)} minutes : réessayez plus tard.")
INVALID_LINK = ("Ce lien n'est pas valide : vérifiez que vous avez copié le lien complet de l'e-mail, et "
                "utilisez le dernier e-mail reçu (un renvoi remplace les liens précédents).")
USED_LINK = ("Ce lien a déjà été utilisé. Si votre compte est actif, connectez-vous ; sinon demandez un "
             "nouvel e-mail d'activation.")
PASSWORD_CHOICE_OVER = ("Ce lien d'activation ne permet plus de choisir le mot de passe Cerbère Citoyen : il a "
                        "déjà été choisi, ou le délai pour le faire est dépassé. Pour le choisir ou le changer, "
                        "connectez-vous avec « Me connecter » puis ouvrez « Mon identifiant Cerbère ».")
EXPIRED_LINK = "Ce lien a expiré. Demandez un nouvel e-mail d'activation avec « Renvoyer l'e-mail »."


_STATUS_BY_NRN = select(Account.status).where(Account.nrn == bindparam("nrn"))
_USERNAME_TAKEN = select(Account.id).where(Account.cerbere_username == bindparam("username"))


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
    # How long after the activation its link still lets whoever opened it
    # choose the first Cerbère password without logging in.
    password_choice_lifetime: timedelta = timedelta(minutes=10)

    @staticmethod
    def by_nrn(db: Session, nrn: str) -> Account | None:
        return db.scalars(select(Account).where(Account.nrn == nrn)).first()

    @staticmethod
    def status_by_nrn(db: Session, nrn: str) -> str | None:
        """The status (PENDING, ACTIVE) of the person's account, None
        without one: one Core SELECT, for pages that only route on it."""
        return db.connection().execute(_STATUS_BY_NRN, {"nrn": nrn}).scalar()

    def create_pending(self, db: Session, who: UpstreamIdentity, email: str, language: str) -> Account:
        """The person's account, pending and mailed its links; or the account
        the person already has (the same form posted twice, or at once), which
        mails nothing: the unique national number decides who created it."""
        existing = self.by_nrn(db, who.nrn)
        if existing is not None:
            return existing
        account = Account(nrn=who.nrn, given_name=who.given_name, surname=who.surname, email=email.strip(),
                          language=language, status=PENDING, contexts=["Citoyen"],
                          created_at=clock.naive_utc_now())
        db.add(account)
        try:
            db.flush()
        except IntegrityError:
            db.rollback()
            return self.by_nrn(db, who.nrn)
        urls = self._new_links(db, account)
        db.commit()
        self._mail_links(account, urls)
        return account

    def resend(self, db: Session, email: str) -> None:
        """Send new links to a pending account with this address, if any.
        Says nothing either way, so addresses cannot be probed."""
        # the account row locked until commit: resends at once replace the
        # links one after the other (PostgreSQL; SQLite's write lock does it)
        account = db.scalars(select(Account).where(
            Account.email == email.strip(), Account.status == PENDING).with_for_update()).first()
        if account is not None:
            urls = self._new_links(db, account)
            db.commit()
            self._mail_links(account, urls)

    def activate(self, db: Session, token: str | None) -> Account:
        """Activate the account of an activation link, once: the link is
        claimed by a conditional UPDATE (unused, unexpired) before anything
        else, so that of the same link opened several times at once one
        activates and the others are told it was used."""
        for _ in range(3):  # a username taken at the same moment by another activation: try again
            link = self._claim(db, token, "activate")
            account = link.account
            now = link.used_at
            db.execute(update(ActivationLink).where(ActivationLink.account_id == account.id,
                                                    ActivationLink.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))
            activated = db.execute(update(Account).where(Account.id == account.id, Account.status == PENDING)
                                   .values(status=ACTIVE, activated_at=now,
                                           cerbere_username=self._new_username(db, account))
                                   .execution_options(synchronize_session=False)).rowcount == 1
            if not activated:
                db.rollback()
                raise LinkRefused(USED_LINK, 410)
            try:
                db.commit()
            except IntegrityError:
                db.rollback()
                continue
            db.refresh(account)
            return account
        raise LinkRefused("L'activation n'a pas pu aboutir : rouvrez le lien de l'e-mail.", 409)

    def cancel_preview(self, db: Session, token: str | None) -> Account:
        """The account a cancel link would delete, if the link still works
        (nothing changes: an e-mailed link is opened with GET)."""
        return self._usable(db, token, "cancel").account

    def cancel(self, db: Session, token: str | None) -> str:
        """Delete the pending account of a cancel link, once (claimed like an
        activation)."""
        link = self._claim(db, token, "cancel")
        account = link.account
        name = account.full_name
        if account.is_active:  # activated meanwhile: the activation used this link already
            db.rollback()
            raise LinkRefused(USED_LINK, 410)
        db.execute(delete(ActivationLink).where(ActivationLink.account_id == account.id)
                   .execution_options(synchronize_session=False))
        db.delete(account)
        db.commit()
        return name

    def may_choose_password(self, db: Session, right: object) -> Account:
        """The account whose first Cerbère password the holder of this right
        (what ``password_right`` put in the session) may still choose: the
        link was used to activate it less than ``password_choice_lifetime``
        ago and no password has been chosen since. Else LinkRefused (410)."""
        account = None
        if isinstance(right, dict) and isinstance(right.get("link"), str):
            link = db.get(ActivationLink, right["link"])
            if link is not None and link.kind == "activate" and link.used_at is not None \
                    and link.account_id == right.get("account") \
                    and link.used_at + self.password_choice_lifetime >= clock.naive_utc_now():
                account = link.account
        if account is None or not account.is_active or account.cerbere_password_hash is not None:
            raise LinkRefused(PASSWORD_CHOICE_OVER, 410)
        return account

    @staticmethod
    def password_right(account: Account, token: str) -> dict:
        """What the session keeps of an activation: the right to choose the
        first password (``may_choose_password``, ``set_first_password``)."""
        return {"account": account.id, "link": _hash(token)}

    def set_first_password(self, db: Session, right: object, password: str) -> Account:
        """Set the first password with an activation's right, once: a
        conditional UPDATE (no password yet, right still valid), so that a
        copy of the session replayed later, or at the same time, is refused."""
        account = self.may_choose_password(db, right)
        changed = db.execute(update(Account).where(Account.id == account.id,
                                                   Account.cerbere_password_hash.is_(None))
                             .values(cerbere_password_hash=generate_password_hash(password),
                                     failed_logins=0, locked_until=None)
                             .execution_options(synchronize_session=False)).rowcount == 1
        db.commit()
        if not changed:
            raise LinkRefused(PASSWORD_CHOICE_OVER, 410)
        db.refresh(account)
        return account

    @staticmethod
    def set_password(db: Session, account: Account, password: str) -> None:
        account.cerbere_password_hash = generate_password_hash(password)
        account.failed_logins, account.locked_until = 0, None
        db.commit()

    @staticmethod
    def password_login(db: Session, username: str, password: str) -> Account:
        """A direct Cerbère Citoyen login.

        Every refusal says the same (``REFUSAL``), whether the username is
        unknown, the password wrong or the account locked, and costs one hash
        check (a dummy one for unknown or locked accounts): neither the text
        nor the time tells whether an account exists. Each check first claims
        one of MAX_FAILED_LOGINS tries in the database (``fedsim.attempts``);
        the claim that uses the last one locks the account for LOCKOUT."""
        account = db.scalars(select(Account).where(Account.cerbere_username == (username or "").strip())).first()
        usable = account is not None and account.is_active
        key = Account.id == account.id if usable else None
        if not PASSWORD.check(db, key, account.cerbere_password_hash if usable else None, password):
            raise LoginRefused(REFUSAL)
        db.refresh(account)
        return account

    @staticmethod
    def seed(db: Session, personas: tuple[Persona, ...]) -> None:
        """Personas that already have an active account (missing ones only),
        with the Cerbère password the personas file sets (``cerbere_password``:
        a direct Cerbère login works at once); an account seeded before that
        password was in the file gets it if it has none."""
        for persona in personas:
            if persona.monespace is None:
                continue
            password = persona.monespace.cerbere_password
            known = AccountService.by_nrn(db, persona.nrn)
            if known is not None:
                if (password and known.cerbere_password_hash is None
                        and known.cerbere_username == persona.monespace.cerbere_username):
                    known.cerbere_password_hash = generate_password_hash(password)
                continue
            now = clock.naive_utc_now()
            account = Account(nrn=persona.nrn, given_name=persona.given_name, surname=persona.surname,
                              email=persona.email, language=persona.language, status=ACTIVE,
                              cerbere_username=persona.monespace.cerbere_username,
                              cerbere_password_hash=generate_password_hash(password) if password else None,
                              contexts=list(persona.monespace.contexts), created_at=now, activated_at=now)
            account.dossiers = [Dossier(title=t, created_at=now) for t in persona.monespace.dossiers]
            account.documents = [Document(title=t, created_at=now) for t in persona.monespace.documents]
            account.notifications = [Notification(text=t, created_at=now) for t in persona.monespace.notifications]
            db.add(account)
        db.commit()

    # -- internals -----------------------------------------------------------

    def _new_links(self, db: Session, account: Account) -> dict[str, str]:
        """New activation and cancel links, their URLs by kind; any older ones
        stop working (one bulk DELETE: a resend racing another deletes what
        is there, never fails on a row already gone)."""
        db.execute(delete(ActivationLink).where(ActivationLink.account_id == account.id)
                   .execution_options(synchronize_session=False))
        expires = clock.naive_utc_now() + self.link_lifetime
        urls = {}
        for kind, path in (("activate", "/compte/activer"), ("cancel", "/compte/annuler")):
            token = secrets.token_urlsafe(32)
            db.add(ActivationLink(token_hash=_hash(token), account_id=account.id, kind=kind, expires_at=expires))
            urls[kind] = f"{self.base_url}{path}?jeton={token}"
        db.flush()
        return urls

    def _mail_links(self, account: Account, urls: dict[str, str]) -> None:
        """Mail links already committed (a mail never carries links that a
        rolled-back request made)."""
        context = {"account": account, "activate_url": urls["activate"], "cancel_url": urls["cancel"]}
        self.mailer.send(account.email, "Activation de votre compte Mon Espace",
                         render_template("monespace/mail/activation.txt", **context),
                         render_template("monespace/mail/activation.html", **context))

    @staticmethod
    def _usable(db: Session, token: str | None, kind: str) -> ActivationLink:
        link = db.get(ActivationLink, _hash(token), populate_existing=True) if token else None
        if link is None or link.kind != kind:
            raise LinkRefused(INVALID_LINK, 404)
        if link.used_at is not None:
            raise LinkRefused(USED_LINK, 410)
        if link.expires_at < clock.naive_utc_now():
            raise LinkRefused(EXPIRED_LINK, 410)
        return link

    @staticmethod
    def _claim(db: Session, token: str | None, kind: str) -> ActivationLink:
        """Mark the link used if it is unused and unexpired, in one
        conditional UPDATE (row count 1: this request won); else LinkRefused
        saying why. The transaction stays open: the caller commits."""
        now = clock.naive_utc_now()
        claimed = bool(token) and db.execute(
            update(ActivationLink).where(ActivationLink.token_hash == _hash(token), ActivationLink.kind == kind,
                                         ActivationLink.used_at.is_(None), ActivationLink.expires_at >= now)
            .values(used_at=now).execution_options(synchronize_session=False)).rowcount == 1
        if not claimed:
            db.rollback()
            AccountService._usable(db, token, kind)
            raise LinkRefused(USED_LINK, 410)  # used between the UPDATE and this look
        return db.get(ActivationLink, _hash(token), populate_existing=True)

    @staticmethod
    def _new_username(db: Session, account: Account) -> str:
        base = (_ascii(account.given_name)[:1] + _ascii(account.surname))[:20] or "citoyen"
        candidate, n = base, 1
        while db.connection().execute(_USERNAME_TAKEN, {"username": candidate}).first() is not None:
            n += 1
            candidate = f"{base}{n}"
        return candidate
