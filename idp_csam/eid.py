"""The eID card reader: a virtual card, its PIN, and the rules of a real card."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.personas import Persona
from idp_csam.models import Citizen, EidCard

PIN_FORMAT = re.compile(r"^\d{4,12}$")


class PinRefused(Exception):
    def __init__(self, message: str, tries_left: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tries_left = tries_left


@dataclass(frozen=True)
class CardReader:
    """Checks PINs against stored cards. ``secret`` keys the PIN digests."""
    secret: bytes
    max_tries: int = 3

    def digest(self, card_number: str, pin: str) -> str:
        return hmac.new(self.secret, f"{card_number}:{pin}".encode(), hashlib.sha256).hexdigest()

    def insert_cards(self, db: Session, personas: tuple[Persona, ...]) -> None:
        """Seed citizens and cards from personas (missing ones only)."""
        for persona in personas:
            if db.get(Citizen, persona.nrn) is None:
                fedid = hashlib.sha256(b"fedid:" + self.secret + persona.nrn.encode()).hexdigest()[:32]
                db.add(Citizen(nrn=persona.nrn, persona_id=persona.id, given_name=persona.given_name,
                               surname=persona.surname, email=persona.email,
                               language=persona.language, fedid=fedid))
            if persona.card and db.get(EidCard, persona.card.number) is None:
                db.add(EidCard(number=persona.card.number, holder_nrn=persona.nrn,
                               pin_digest=self.digest(persona.card.number, persona.card.pin)))
        db.commit()

    @staticmethod
    def cards(db: Session) -> list[EidCard]:
        return list(db.scalars(select(EidCard).order_by(EidCard.number)))

    def verify_pin(self, db: Session, card_number: str, pin: str) -> Citizen:
        card = db.get(EidCard, card_number or "")
        if card is None:
            raise PinRefused("Aucune carte eID n'est insérée dans le lecteur : choisissez une carte.")
        if card.is_blocked:
            raise PinRefused("Cette carte eID est bloquée après trois codes PIN erronés. "
                             "Débloquez-la avec votre code PUK auprès de votre commune.", 0)
        if not PIN_FORMAT.match(pin or ""):
            raise PinRefused("Le code PIN se compose de 4 à 12 chiffres.", self.max_tries - card.failed_pin_tries)
        if not hmac.compare_digest(card.pin_digest, self.digest(card.number, pin)):
            card.failed_pin_tries += 1
            left = self.max_tries - card.failed_pin_tries
            if left <= 0:
                card.blocked_at = clock.naive_utc_now()
                db.commit()
                raise PinRefused("Code PIN erroné. La carte eID est maintenant bloquée.", 0)
            db.commit()
            plural = "essais" if left > 1 else "essai"
            raise PinRefused(f"Code PIN erroné. Il vous reste {left} {plural}.", left)
        if card.failed_pin_tries:
            card.failed_pin_tries = 0
            db.commit()
        return card.holder
