"""The eID card reader (G03): virtual cards with the rules of real ones.

The person's side is :class:`CardReader`: it checks the PIN (three wrong PINs
block the card; the PUK unblocks it, three wrong PUKs block it for good) and
lets the card's chip sign CSAM's challenge. CSAM's side is
:class:`idp_csam.cardpki.CardVerifier`; :func:`sign_in` runs one after the
other and returns the NRN read from the card's certificate.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, case, select, update
from sqlalchemy.orm import Session, joinedload

from fedsim import attempts, clock, personas
from fedsim.personas import Persona
from idp_csam.cardpki import CardPki, CardVerifier, CertificateRefused, Chip
from idp_csam.i18n import N_, ngettext
from idp_csam.i18n import gettext as _
from idp_csam.models import Citizen, EidCard

PIN_FORMAT = re.compile(r"^\d{4,12}$")
PUK_FORMAT = re.compile(r"^\d{6,12}$")
CARD_STATES = personas.CARD_STATES


class PinRefused(Exception):
    """The reader or CSAM refuses; ``unblock`` names a card the PUK may unblock."""

    def __init__(self, message: str, tries_left: int | None = None, unblock: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tries_left = tries_left
        self.unblock = unblock


@dataclass(frozen=True)
class SeedCard:
    """A persona's card as the personas file describes it: its own card
    (``card``, valid) or another one (``cards``) in a given state."""
    holder: str
    number: str
    pin: str
    puk: str
    state: str = "valid"


def load_cards(people: tuple[Persona, ...] | None = None) -> tuple[SeedCard, ...]:
    """The other cards (``cards:``) of ``people`` (default: the personas)."""
    return tuple(SeedCard(p.id, c.number, c.pin, c.puk, c.state)
                 for p in (personas.load() if people is None else people) for c in p.cards)


def seed_cards(people: tuple[Persona, ...]) -> tuple[SeedCard, ...]:
    """Every card of ``people``: their own (valid), then their other cards."""
    own = tuple(SeedCard(p.id, p.card.number, p.card.pin, p.card.puk) for p in people if p.card)
    return own + load_cards(people)


def fedid(identity_key: bytes, nrn: str) -> str:
    """The citizen's federal identifier, derived from the NRN (or BIS number)."""
    return hashlib.sha256(b"fedid:" + identity_key + nrn.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CardReader:
    """Checks PINs against stored cards. ``secret`` keys the PIN and PUK
    digests, ``identity`` the fedids of the citizens it seeds; ``pki`` holds
    the cards' chips (None: PIN only, no chips)."""
    secret: bytes
    identity: bytes
    max_tries: int = 3
    pki: CardPki | None = None

    def digest(self, card_number: str, pin: str) -> str:
        return hmac.new(self.secret, f"{card_number}:{pin}".encode(), hashlib.sha256).hexdigest()

    def puk_digest(self, card_number: str, puk: str) -> str:
        return self.digest(card_number, f"PUK:{puk}")

    # -- seeding ---------------------------------------------------------------------

    def insert_cards(self, db: Session, people: tuple[Persona, ...], extra: tuple[SeedCard, ...] = ()) -> None:
        """Seed citizens and cards from ``people`` (missing ones), and give
        every card of the file the state the file says, at every start: a
        card the file calls revoked goes on the CRL, one it calls valid
        leaves it (with a new certificate), an expired or valid one gets a
        certificate whose dates say so. ``extra``: cards besides the
        personas' own and other cards (``SeedCard``)."""
        by_id = {p.id: p for p in people}
        for persona in people:
            citizen = db.get(Citizen, persona.nrn)
            if citizen is None:
                citizen = Citizen(nrn=persona.nrn, persona_id=persona.id, given_name=persona.given_name,
                                  surname=persona.surname, email=persona.email, language=persona.language,
                                  fedid=fedid(self.identity, persona.nrn))
                db.add(citizen)
            citizen.attributes = {name: list(values) for name, values in persona.attributes.items()} or None
        wanted: dict[str, tuple[str, bool]] = {}  # card number -> (state, issue a new certificate)
        for seed in seed_cards(people) + tuple(extra):
            holder = by_id.get(seed.holder)
            if holder is None:  # another personas file may not have this holder
                continue
            card = self._add_card(db, seed.number, holder.nrn, seed.pin, seed.puk)
            reissue = False
            if seed.state == "revoked" and card.revoked_at is None:
                card.revoked_at = clock.naive_utc_now()
            elif seed.state != "revoked" and card.revoked_at is not None:
                card.revoked_at = None
                reissue = True  # off the CRL, with a new certificate
            wanted[seed.number] = (seed.state, reissue)
        db.flush()
        if self.pki is not None:
            self._make_chips(db, wanted)
        db.commit()

    def _add_card(self, db: Session, number: str, nrn: str, pin: str, puk: str) -> EidCard:
        """The card, added when it is not known yet."""
        known = db.get(EidCard, number)
        if known is not None:
            if known.puk_digest is None:  # a card seeded before PUKs were kept
                known.puk_digest = self.puk_digest(number, puk)
            return known
        card = EidCard(number=number, holder_nrn=nrn, pin_digest=self.digest(number, pin),
                       puk_digest=self.puk_digest(number, puk))
        db.add(card)
        return card

    def _make_chips(self, db: Session, wanted: dict[str, tuple[str, bool]]) -> None:
        """Chips for every card; the ones of the file get the dates of their
        state (``cardpki.CardPki.ensure_card``); then the CRL is published."""
        self.pki.ensure_authorities()
        revoked: list[tuple[int, datetime]] = []
        for card in self.cards(db):
            holder = card.holder
            state, reissue = wanted.get(card.number, ("", False))  # "": a card the file does not name
            cert = self.pki.ensure_card(card.number, holder.given_name, holder.surname, holder.nrn,
                                        expired=state == "expired", follow=bool(state), reissue=reissue)
            card.cert_serial = format(cert.serial_number, "x")
            if card.revoked_at is not None:
                revoked.append((cert.serial_number, card.revoked_at))
        self.pki.publish_crl(revoked)

    # -- the person at the reader --------------------------------------------------------

    @staticmethod
    def cards(db: Session) -> list[EidCard]:
        # with their holders in the same query: the reader lists every card
        return list(db.scalars(select(EidCard).options(joinedload(EidCard.holder)).order_by(EidCard.number)))

    @staticmethod
    def listing(db: Session) -> list[Row]:
        """What the reader's list shows of every card, as read-only rows
        (number, given_name, surname, blocked_at, revoked_at), in the order
        of ``cards``: one Core SELECT, no ORM objects."""
        return list(db.connection().execute(_LISTING))

    def verify_pin(self, db: Session, card_number: str, pin: str) -> Citizen:
        """The card's holder when ``pin`` is right. Each PIN first claims one
        of the card's ``max_tries`` tries in the database (``fedsim.attempts``):
        PINs sent at once check at most ``max_tries`` PINs. The claim of the
        last try blocks the card at once; a right PIN then opens it again."""
        card = db.get(EidCard, card_number or "")
        if card is None:
            raise PinRefused(_("Aucune carte eID n'est insérée dans le lecteur : choisissez une carte."))
        self._refuse_if_blocked(card)
        if not PIN_FORMAT.match(pin or ""):
            raise PinRefused(_("Le code PIN se compose de 4 à 12 chiffres."), self.max_tries - card.failed_pin_tries)
        last_try = EidCard.failed_pin_tries + 1 >= self.max_tries
        claimed = attempts.claim(db, EidCard.failed_pin_tries, self.max_tries, EidCard.number == card.number,
                                 EidCard.blocked_at.is_(None), EidCard.failed_puk_tries < self.max_tries,
                                 blocked_at=case((last_try, clock.naive_utc_now()), else_=None))
        db.refresh(card)
        if not claimed:  # blocked meanwhile, by PINs sent at the same time
            self._refuse_if_blocked(card)
            raise PinRefused(_(_PIN_BLOCKED), 0, unblock=card.number)
        if not hmac.compare_digest(card.pin_digest, self.digest(card.number, pin)):
            left = self.max_tries - card.failed_pin_tries
            if left <= 0:
                raise PinRefused(_("Code PIN erroné. La carte eID est maintenant bloquée."), 0, unblock=card.number)
            raise PinRefused(ngettext("Code PIN erroné. Il vous reste %(num)d essai.",
                                      "Code PIN erroné. Il vous reste %(num)d essais.", left), left)
        db.execute(update(EidCard).where(EidCard.number == card.number)
                   .values(failed_pin_tries=0, blocked_at=None).execution_options(synchronize_session=False))
        db.commit()
        db.refresh(card)
        return card.holder

    def _refuse_if_blocked(self, card: EidCard) -> None:
        if card.failed_puk_tries >= self.max_tries:
            raise PinRefused(_(_BLOCKED_FOR_GOOD), 0)
        if card.is_blocked:
            raise PinRefused(_(_PIN_BLOCKED), 0, unblock=card.number)

    def unblock(self, db: Session, card_number: str, puk: str, new_pin: str, confirm: str) -> None:
        """PUK + a new PIN (twice): the card opens again with the new PIN.
        Each PUK claims one of ``max_tries`` tries in the database first."""
        card = db.get(EidCard, card_number or "")
        if card is None:
            raise PinRefused(_("Aucune carte eID n'est insérée dans le lecteur : choisissez une carte."))
        if card.failed_puk_tries >= self.max_tries:
            raise PinRefused(_(_BLOCKED_FOR_GOOD), 0)
        if not card.is_blocked:
            raise PinRefused(_(_NOT_BLOCKED))
        if not PUK_FORMAT.match(puk or ""):
            raise PinRefused(_("Le code PUK se compose de 6 à 12 chiffres."))
        if not PIN_FORMAT.match(new_pin or ""):
            raise PinRefused(_("Le nouveau code PIN doit se composer de 4 à 12 chiffres."))
        if new_pin != confirm:
            raise PinRefused(_("Les deux nouveaux codes PIN ne correspondent pas."))
        claimed = attempts.claim(db, EidCard.failed_puk_tries, self.max_tries, EidCard.number == card.number,
                                 EidCard.blocked_at.is_not(None))
        db.refresh(card)
        if not claimed:  # PUKs sent at the same time used the last try, or unblocked the card
            raise PinRefused(_(_BLOCKED_FOR_GOOD if card.failed_puk_tries >= self.max_tries else _NOT_BLOCKED),
                             0 if card.failed_puk_tries >= self.max_tries else None)
        if card.puk_digest is None or not hmac.compare_digest(card.puk_digest, self.puk_digest(card.number, puk)):
            left = self.max_tries - card.failed_puk_tries
            if left <= 0:
                raise PinRefused(_("Code PUK erroné.") + " " + _(_BLOCKED_FOR_GOOD), 0)
            raise PinRefused(ngettext("Code PUK erroné. Il vous reste %(num)d essai.",
                                      "Code PUK erroné. Il vous reste %(num)d essais.", left), left)
        db.execute(update(EidCard).where(EidCard.number == card.number)
                   .values(pin_digest=self.digest(card.number, new_pin), failed_pin_tries=0, failed_puk_tries=0,
                           blocked_at=None).execution_options(synchronize_session=False))
        db.commit()
        db.refresh(card)

    def sign(self, card_number: str, challenge: bytes) -> tuple[Chip, bytes]:
        """The card (PIN accepted) signs the challenge with its chip's key."""
        chip = self.pki.chip(card_number) if self.pki is not None else None
        if chip is None:
            raise PinRefused(_("La carte eID ne répond pas : retirez-la et insérez-la à nouveau."))
        return chip, chip.sign(challenge)


_LISTING = (select(EidCard.number, Citizen.given_name, Citizen.surname, EidCard.blocked_at, EidCard.revoked_at)
            .join(Citizen, EidCard.holder_nrn == Citizen.nrn).order_by(EidCard.number))

_PIN_BLOCKED = N_("Cette carte eID est bloquée après trois codes PIN erronés. "
                  "Débloquez-la avec votre code PUK auprès de votre commune.")
_NOT_BLOCKED = N_("Cette carte eID n'est pas bloquée : connectez-vous avec votre code PIN.")
_BLOCKED_FOR_GOOD = N_("La carte eID est définitivement bloquée après trois codes PUK erronés : "
                       "demandez une nouvelle carte à votre commune.")


def sign_in(db: Session, reader: CardReader, verifier: CardVerifier, card_number: str, pin: str,
            challenge: bytes) -> str:
    """PIN, then the card signs CSAM's challenge, then CSAM checks the
    signature, the chain and the CRL. Returns the NRN of the certificate."""
    reader.verify_pin(db, card_number, pin)
    chip, signature = reader.sign(card_number, challenge)
    try:
        nrn = verifier.verify(chip.certificate, chip.ca_certificate, challenge, signature, reader.pki.crl())
    except CertificateRefused as refused:
        raise PinRefused(refused.message) from refused
    if db.get(Citizen, nrn) is None:
        raise PinRefused(_("Le titulaire de cette carte eID n'est pas connu du service d'authentification."))
    return nrn
