"""European authentication, eIDAS (G07, G08): CSAM's eIDAS connector.

The person picks a country on the « Authentification européenne » page; the
« ? » lists the recognised ones (``data/eidas_countries.yaml``, or app
config ``EIDAS_COUNTRIES_FILE``).

- A recognised country: CSAM's connector (SAML SP ``csam-eidas-sp``) sends a
  signed AuthnRequest in the eIDAS profile — ``eidas:SPType`` public,
  ``eidas:RequestedAttributes`` PersonIdentifier, CurrentFamilyName,
  CurrentGivenName, DateOfBirth (required), RequestedAuthnContext
  ``http://eidas.europa.eu/LoA/substantial`` comparison minimum — to the
  country's node (simulated: ``idp_csam.eidas_node``). Its signed answer is
  verified (``fedsim.saml.sp.ServiceProvider``), the foreign person is mapped
  to a CSAM citizen — created on the first login with a BIS number (sex
  unknown, from DateOfBirth) and no e-mail address, found again by
  PersonIdentifier afterwards — and CSAM answers Mon Espace.
- A country CSAM knows but does not recognise (the guide: France): the page
  that points to the foreign-national procedure (G08, G19–G21).
- Any other code: 404.

Levels of assurance, eIDAS -> FAS (explicit, see ``LEVELS``):

    http://eidas.europa.eu/LoA/high         -> urn:be:fedict:iam:fas:Level450
    http://eidas.europa.eu/LoA/substantial  -> urn:be:fedict:iam:fas:Level400
    http://eidas.europa.eu/LoA/low          -> refused (below what CSAM accepts)

Level500 stays reserved to the Belgian eID card: a foreign eID is never
asserted as a Belgian eID.

Attribute values must be typed as the eIDAS SAML Attribute Profile (v1.2)
says (``fedsim.saml.eidas.check_types``, on the verified tree's values): an
absent or other ``xsi:type``, or a DateOfBirth that is not an xsd:date
YYYY-MM-DD, is refused, naming the attribute.

Single Logout (``/eidas/sp/slo``, HTTP-Redirect, signed both ways). At an
eIDAS login the connector keeps the node's NameID and SessionIndex in the
CSAM session (``LOGIN_KEY``). When Mon Espace logs the person out of CSAM
(CSAM's ``/saml/slo``) and the CSAM authentication came from eIDAS,
``propagate_logout`` ends CSAM's authentication at once, keeps Mon Espace's
request in the session (``LOGOUT_KEY``) and sends the node a LogoutRequest;
the node's LogoutResponse comes back here, the CSAM session is destroyed and
CSAM answers Mon Espace: Success, or Success/PartialLogout naming the node
when it did not confirm. A LogoutRequest from the node ends the CSAM
session of the person it names (Requester/UnknownPrincipal when it names
another; Success when there is none); CSAM does not carry it on to its own
services (it sends no LogoutRequest to Mon Espace).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml
from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fedsim import keys, nrn, personas, sessions
from fedsim.db import Database
from fedsim.federation import Settings, entities
from fedsim.levels import LEVEL400, LEVEL450
from fedsim.saml import eidas as eidas_profile
from fedsim.saml.config import EIDAS_ATTRIBUTES
from fedsim.saml.errors import SamlRefused
from fedsim.saml.slo import LogoutService, ReceivedLogout
from fedsim.saml.sp import SamlLogin, ServiceProvider
from fedsim.trust import entity_config
from fedsim.web import UserError, metadata_response
from idp_csam import authn, sso_session
from idp_csam.eidas_node import LOA_HIGH, LOA_LABELS, LOA_LOW, LOA_SUBSTANTIAL
from idp_csam.fields import RELAY_STATE_MAX, form_value
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods import Method
from idp_csam.models import Citizen

COUNTRIES_FILE = Path(__file__).resolve().parent.parent / "data" / "eidas_countries.yaml"
REQUESTED_LOA = LOA_SUBSTANTIAL  # minimum
LEVELS = {LOA_HIGH: LEVEL450, LOA_SUBSTANTIAL: LEVEL400}
MAX_RELAYS = 5  # eIDAS logins started in one browser and not answered yet
LOGIN_KEY = "eidas_login"    # the node's NameID and SessionIndex of the CSAM authentication
LOGOUT_KEY = "eidas_logout"  # a logout of CSAM waiting for the node's answer
_PERSON_IDENTIFIER = re.compile(r"^([A-Z]{2})/BE/([^\s/][^\s]{0,39})$")

bp = Blueprint("eidas", __name__)


class LevelRefused(ValueError):
    """An eIDAS level of assurance CSAM does not accept."""


def fas_level(loa: str | None) -> str:
    """The FAS level CSAM asserts for an eIDAS LoA; LevelRefused otherwise."""
    if loa in LEVELS:
        return LEVELS[loa]
    if loa == LOA_LOW:
        raise LevelRefused(_("Votre identification électronique a le niveau de garantie eIDAS « faible » (low) : "
                           "CSAM exige au moins le niveau « substantiel ». Utilisez un moyen d'identification "
                           "de niveau substantiel ou élevé de votre pays."))
    raise LevelRefused(_("Niveau de garantie eIDAS inconnu : %(loa)s.", loa=repr(loa)))


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    scheme: str = ""


@dataclass(frozen=True)
class Countries:
    recognised: tuple[Country, ...]
    not_recognised: tuple[Country, ...]

    def find(self, code: str) -> tuple[Country | None, bool]:
        """(country, recognised?); (None, False) for a code CSAM does not know."""
        for country in self.recognised:
            if country.code == code:
                return country, True
        for country in self.not_recognised:
            if country.code == code:
                return country, False
        return None, False

    def name(self, code: str) -> str:
        country, _recognised = self.find(code)
        return country.name if country else code

    @property
    def all(self) -> tuple[Country, ...]:
        return tuple(sorted(self.recognised + self.not_recognised, key=lambda c: c.name))


@lru_cache(maxsize=8)
def load_countries(path: str | Path = COUNTRIES_FILE) -> Countries:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}

    def read(key: str) -> tuple[Country, ...]:
        return tuple(Country(code=str(c["code"]).upper(), name=str(c["name"]), scheme=str(c.get("scheme", "")))
                     for c in raw.get(key) or ())
    return Countries(read("recognised"), read("not_recognised"))


def countries() -> Countries:
    return load_countries(current_app.config.get("EIDAS_COUNTRIES_FILE") or COUNTRIES_FILE)


def build(settings: Settings) -> ServiceProvider:
    return ServiceProvider(entity_config(settings, "csam-eidas-sp", eidas=True),
                           idp_entity_id=entities(settings)["eidas-node-idp"].entity_id)


def _sp() -> ServiceProvider:
    return current_app.extensions["idp_csam.eidas_sp"]


def _slo() -> LogoutService:
    """The connector's Single Logout (made on first use, kept with the app)."""
    found = current_app.extensions.get("idp_csam.eidas_sp_slo")
    if found is None:
        found = current_app.extensions["idp_csam.eidas_sp_slo"] = LogoutService(_sp().client)
    return found


# -- the pages ----------------------------------------------------------------

@bp.get("/eidas")
def choose():
    """The country list; ``?pays=XX`` picks a country."""
    known = countries()
    code = (request.args.get("pays") or "").strip().upper()
    if not code:
        return render_template("idp_csam/eidas/countries.html", countries=known)
    country, recognised = known.find(code)
    if country is None:
        raise UserError(_("Pays inconnu : « %(code)s » ne figure pas dans la liste des pays proposés.",
                          code=code[:10]), code=404, title=_("Pays inconnu"))
    if not recognised:
        guide = current_app.config["FEDSIM_SETTINGS"].base_url("monespace") + "/centre-aide/guide?etranger=1"
        return render_template("idp_csam/eidas/not_recognised.html", country=country, guide=guide)
    return _start(country)


@bp.get("/eidas/pays-reconnus")
def recognised():
    """The « ? »: the countries whose electronic identification CSAM recognises."""
    return render_template("idp_csam/eidas/recognised.html", countries=countries())


def _start(country: Country):
    url, relay = _sp().start_login(Database.session(), next_url=url_for("sso.answer"),
                                   authn_contexts=(REQUESTED_LOA,), comparison="minimum")
    relays = dict(list((session.get("eidas_relays") or {}).items())[-(MAX_RELAYS - 1):])
    relays[relay] = country.code
    session["eidas_relays"] = relays
    return redirect(f"{url}&pays={country.code}")


@bp.get("/eidas/sp/metadata")
def metadata():
    return metadata_response("csam-eidas-sp")


@bp.post("/eidas/sp/acs")
def assertion_consumer():
    """The node's answer (CSRF-exempt: a cross-site SAML POST)."""
    relays = session.get("eidas_relays") or {}
    relay_state = form_value("RelayState", "RelayState", RELAY_STATE_MAX) or None
    country = relays.get(relay_state or "", "")
    db = Database.session()
    login = _sp().accept(db, request.form.get("SAMLResponse"), relay_state, list(relays),
                         check=lambda login: check_typed(login, country))
    session["eidas_relays"] = {k: v for k, v in relays.items() if k != relay_state}
    citizen = citizen_for(db, login, keys.key("identity"), personas.load(current_app.config.get("PERSONAS_FILE")))
    session[LOGIN_KEY] = {"nrn": citizen.nrn, "idp": login.issuer, "name_id": login.name_id,
                          "format": login.name_id_format, "session_index": login.session_index or ""}
    return authn.complete(citizen.nrn, METHOD, level=fas_level(login.authn_context))


def check_typed(login: SamlLogin, country: str) -> None:
    """``check``, after the eIDAS SAML Attribute Profile's value types."""
    eidas_profile.check_types(login.attributes, login.attribute_types)
    check(login, country)


def check(login: SamlLogin, country: str) -> None:
    """What CSAM requires of a node's answer; ValueError says what is wrong."""
    fas_level(login.authn_context)
    missing = [name for name, required in EIDAS_ATTRIBUTES.items() if required and not login.first(name)]
    if missing:
        raise ValueError(_("Le nœud eIDAS n'a pas transmis les attributs obligatoires : %(names)s.",
                           names=", ".join(missing)))
    match = _PERSON_IDENTIFIER.match(login.first("PersonIdentifier"))
    if match is None:
        raise ValueError(_("PersonIdentifier eIDAS invalide : le format attendu est <pays>/BE/<identifiant>."))
    if match.group(1) != country:
        raise ValueError(_("PersonIdentifier émis par le pays %(issuer)s, alors que la connexion a été "
                           "demandée au nœud du pays %(country)s.", issuer=match.group(1), country=country or "?"))
    try:
        date.fromisoformat(login.first("DateOfBirth"))
    except ValueError:
        raise ValueError(_("DateOfBirth eIDAS invalide : le format attendu est AAAA-MM-JJ.")) from None


def citizen_for(db: Session, login: SamlLogin, secret: bytes,
                people: tuple[personas.Persona, ...] = ()) -> Citizen:
    """The CSAM citizen of a foreign person: found by PersonIdentifier (or,
    for a foreigner of the personas ``people``, their own record), or
    created with a BIS number (sex unknown) on the first login."""
    identifier = login.first("PersonIdentifier")
    key = f"eidas:{identifier}"
    citizen = db.scalars(select(Citizen).where(Citizen.persona_id == key)).first() or \
        _persona(db, identifier, people)
    if citizen is not None:
        return citizen
    born = date.fromisoformat(login.first("DateOfBirth"))
    digest = hashlib.sha256(b"eidas:" + secret + identifier.encode()).hexdigest()
    start = int(digest, 16) % 998
    for step in range(998):
        number = nrn.make(born, (start + step) % 998 + 1, bis="sex-unknown")
        if db.get(Citizen, number) is None:
            break
    else:
        raise UserError(_("Aucun numéro BIS libre pour cette date de naissance."), code=409)
    citizen = Citizen(nrn=number, persona_id=key, given_name=login.first("CurrentGivenName"),
                      surname=login.first("CurrentFamilyName"), email="", language="fr",
                      fedid=hashlib.sha256(b"fedid:" + digest.encode()).hexdigest()[:32])
    db.add(citizen)
    try:
        db.commit()
    except IntegrityError:  # this person's first login at the same moment, or this BIS number just taken
        db.rollback()
        return citizen_for(db, login, secret, people)
    return citizen


def _persona(db: Session, identifier: str, people: tuple[personas.Persona, ...]) -> Citizen | None:
    """The record of a foreigner of ``people`` whose eIDAS identity
    (``eidas:`` country and national id) is ``identifier`` (<CC>/BE/<id>):
    seeded with their own BIS number, they log in as that person."""
    country, _, national_id = identifier.partition("/BE/")
    for person in people:
        if person.eidas and (person.eidas.country, person.eidas.national_id) == (country, national_id):
            return db.get(Citizen, person.nrn)
    return None


# -- Single Logout ---------------------------------------------------------------

def _eidas_login() -> dict | None:
    """The node's NameID and SessionIndex of the current CSAM authentication,
    if it came from eIDAS; None otherwise."""
    auth = session.get(sso_session.AUTHENTICATED) or {}
    foreign = session.get(LOGIN_KEY) or {}
    if auth.get("method") != METHOD.code or not foreign.get("name_id") or foreign.get("nrn") != auth.get("nrn"):
        return None
    return foreign


def propagate_logout(received: ReceivedLogout) -> str | None:
    """CSAM was asked (``received``: verified, and about this session) to end
    a session whose authentication came from an eIDAS node: CSAM's
    authentication ends now (nothing is answered silently with it any
    more), Mon Espace's request is kept, and the URL of a signed
    LogoutRequest to the node is returned; the node's answer comes back to
    ``single_logout``. None when the authentication did not come from eIDAS."""
    foreign = _eidas_login()
    if foreign is None:
        return None
    try:
        url, request_id = _slo().request(foreign["idp"], foreign["name_id"], foreign.get("session_index") or None,
                                         name_id_format=foreign.get("format") or "")
    except SamlRefused as refused:  # the node has no SLO service in the metadata: CSAM still logs out
        sessions.destroy()
        return current_app.extensions["idp_csam.slo"].respond_partial(
            received, f"Le nœud eIDAS n'a pas pu être averti de la déconnexion : {refused.reason}")
    sso_session.forget(session)
    session.pop(LOGIN_KEY, None)
    session[LOGOUT_KEY] = {"request_id": request_id, "peer": foreign["idp"], "upstream": asdict(received)}
    return url


@bp.get("/eidas/sp/slo")
def single_logout():
    """The node's answer to CSAM's LogoutRequest, or the node's own request."""
    slo = _slo()
    received = slo.receive(request.query_string.decode("latin-1"), Database.session())  # or SamlRefused
    if received.kind == "request":
        return _logout_requested_by_node(slo, received)
    plan = session.get(LOGOUT_KEY) or {}
    if not plan or received.in_response_to != plan.get("request_id") or received.issuer != plan.get("peer"):
        raise SamlRefused(_("Réponse de déconnexion non sollicitée : le connecteur eIDAS n'a envoyé, depuis ce "
                            "navigateur, aucune demande de déconnexion à laquelle elle répondrait."))
    upstream = ReceivedLogout.from_dict(plan["upstream"])
    sessions.destroy()  # CSAM's session and, with it, the node's
    csam: LogoutService = current_app.extensions["idp_csam.slo"]
    if received.complete:
        return redirect(csam.respond(upstream))
    said = f" ({received.status_message})" if received.status_message else ""
    return redirect(csam.respond_partial(upstream, f"{slo.peer_name(received.issuer)} n'a pas confirmé la "
                                                   f"déconnexion{said}."))


def _logout_requested_by_node(slo: LogoutService, received: ReceivedLogout):
    """The node ended the person's session: so does CSAM, if its
    authentication is the one the node names."""
    foreign = _eidas_login()
    if foreign is not None:  # none: nothing to end, Success
        if foreign["idp"] != received.issuer:
            return redirect(slo.respond_unknown(received, "ce nœud eIDAS n'a pas authentifié la personne de "
                                                          "cette session."))
        mismatch = slo.mismatch(received, foreign["name_id"], foreign.get("session_index") or None)
        if mismatch:
            return redirect(slo.respond_unknown(received, mismatch))
        sessions.destroy()
    return redirect(slo.respond(received))


METHOD = Method(code="eidas", group="europe",
                label=_l("IDENTIFICATION avec une identification électronique reconnue au plan européen"),
                level=LEVEL400, blueprint=bp, entry="eidas.choose",
                extra_links=((_l("Liste des pays reconnus"), "eidas.recognised"),))

__all__ = ["LEVELS", "LOA_LABELS", "METHOD", "build", "check", "check_typed", "citizen_for", "countries",
           "fas_level", "propagate_logout"]
