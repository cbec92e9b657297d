"""A simulated foreign eIDAS node (G07): the proxy service of the person's
country and its national identity provider, in one SAML entity
(``eidas-node-idp``), hosted by the idp_csam app under ``/eidas-node``.

It accepts the signed eIDAS AuthnRequest of CSAM's connector
(``csam-eidas-sp``), checks the eIDAS profile (``eidas:SPType``, the
mandatory ``eidas:RequestedAttributes``, a level of assurance
``http://eidas.europa.eu/LoA/...``), lets the person pick one of the foreign
personas of the country (``data/eidas_personas.yaml``, or app config
``EIDAS_PERSONAS_FILE``) and answers with a signed Response whose assertion
carries the natural-person attributes (NameFormat uri) and the persona's LoA.

Which country's node the connector talks to is the ``pays`` query parameter
of the SSO URL (a real connector has one proxy service per country; here one
entity plays them all). It only routes: the signed request is what counts.

Attribute values are typed as the eIDAS SAML Attribute Profile (v1.2) says
(``xsi:type`` ``eidas-natural:PersonIdentifierType``…, DateOfBirth an
xsd:date YYYY-MM-DD): ``fedsim.saml.eidas.type_values``.

The node's session: whom it authenticated, for which connector, under which
NameID and SessionIndex (``SESSION_KEY`` in the server-side session, which
the node shares with CSAM: same app, same cookie, keys prefixed
``eidas_node``). It only serves Single Logout: ``/eidas-node/slo`` takes the
connector's signed LogoutRequest (HTTP-Redirect), ends that session if the
request names it (Requester/UnknownPrincipal otherwise; Success when there
is none) and answers with a signed LogoutResponse.
"""
from __future__ import annotations

from dataclasses import dataclass
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
from lxml import etree
from saml2.samlp import (
    STATUS_AUTHN_FAILED,
    STATUS_NO_AUTHN_CONTEXT,
    STATUS_REQUEST_DENIED,
)

from fedsim import personas
from fedsim.db import Database
from fedsim.federation import Settings
from fedsim.saml import eidas as eidas_profile
from fedsim.saml import redirect as saml_redirect
from fedsim.saml.config import EIDAS_ATTRIBUTES, EIDAS_NATURAL_PERSON
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider, context_satisfies
from fedsim.saml.slo import LogoutService
from fedsim.trust import entity_config
from fedsim.web import UserError, metadata_response, post_form
from fedsim.xmlsafe import hardened_parser
from idp_csam import fields
from idp_csam.fields import form_value
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l

LOA_LOW = "http://eidas.europa.eu/LoA/low"
LOA_SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LOA_HIGH = "http://eidas.europa.eu/LoA/high"
LOA_ORDER = (LOA_LOW, LOA_SUBSTANTIAL, LOA_HIGH)
LOA_LABELS = {LOA_LOW: _l("faible"), LOA_SUBSTANTIAL: _l("substantiel"), LOA_HIGH: _l("élevé")}

EIDAS_EXTENSIONS = "http://eidas.europa.eu/saml-extensions"
MANDATORY = tuple(EIDAS_NATURAL_PERSON + n for n, required in EIDAS_ATTRIBUTES.items() if required)
DESTINATION_COUNTRY = "BE"
PERSONAS_FILE = Path(__file__).parent / "data" / "eidas_personas.yaml"
SESSION_KEY = "eidas_node_session"  # the node's own session (Single Logout)

bp = Blueprint("eidas_node", __name__, url_prefix="/eidas-node")


@dataclass(frozen=True)
class ForeignPersona:
    id: str
    country: str
    given_name: str
    family_name: str
    birth_date: str  # YYYY-MM-DD
    national_id: str
    loa: str         # one of LOA_ORDER

    @property
    def person_identifier(self) -> str:
        """eIDAS PersonIdentifier: <issuing country>/<destination country>/<id>."""
        return f"{self.country}/{DESTINATION_COUNTRY}/{self.national_id}"

    def attributes(self) -> dict[str, list[str]]:
        """The natural-person attributes, by local (friendly) name."""
        return {"PersonIdentifier": [self.person_identifier], "CurrentFamilyName": [self.family_name],
                "CurrentGivenName": [self.given_name], "DateOfBirth": [self.birth_date]}


@lru_cache(maxsize=8)
def load_personas(path: str | Path = PERSONAS_FILE) -> dict[str, tuple[ForeignPersona, ...]]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    found = {}
    for country, people in raw.items():
        code = str(country).upper()
        found[code] = tuple(ForeignPersona(
            id=str(p["id"]), country=code, given_name=str(p["given_name"]), family_name=str(p["family_name"]),
            birth_date=str(p["birth_date"]), national_id=str(p["national_id"]),
            loa=f"http://eidas.europa.eu/LoA/{p.get('loa', 'substantial')}") for p in people or ())
    return found


def build(settings: Settings) -> IdentityProvider:
    return IdentityProvider(entity_config(settings, "eidas-node-idp", eidas=True))


def _node() -> IdentityProvider:
    return current_app.extensions["idp_csam.eidas_node"]


def _slo() -> LogoutService:
    """The node's Single Logout (made on first use, kept with the app)."""
    found = current_app.extensions.get("idp_csam.eidas_node_slo")
    if found is None:
        found = current_app.extensions["idp_csam.eidas_node_slo"] = LogoutService(_node().server)
    return found


def _personas() -> dict[str, tuple[ForeignPersona, ...]]:
    """The node's people (``data/eidas_personas.yaml``), and the personas of
    the personas file with an ``eidas:`` block (fedsim.personas: shipped and
    FEDSIM_PERSONAS), under their country."""
    found = dict(load_personas(current_app.config.get("EIDAS_PERSONAS_FILE") or PERSONAS_FILE))
    people = personas.load(current_app.config.get("PERSONAS_FILE"))
    for person in people:
        if person.eidas is not None:
            known = ForeignPersona(id=person.id, country=person.eidas.country, given_name=person.given_name,
                                   family_name=person.surname, birth_date=person.eidas.birth_date,
                                   national_id=person.eidas.national_id,
                                   loa=f"http://eidas.europa.eu/LoA/{person.eidas.loa}")
            others = tuple(p for p in found.get(known.country, ()) if p.id != known.id)
            found[known.country] = others + (known,)
    return found


@dataclass(frozen=True)
class EidasRequest:
    """What the eIDAS extensions of an AuthnRequest say."""
    sp_type: str
    requested_attributes: tuple[str, ...]


def read_extensions(saml_request: str) -> EidasRequest:
    """Read ``eidas:SPType`` and ``eidas:RequestedAttributes`` of an
    AuthnRequest whose signature has already been verified."""
    root = etree.fromstring(saml_redirect.inflate(saml_request), hardened_parser())
    ns = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "eidas": EIDAS_EXTENSIONS}
    sp_type = (root.findtext("samlp:Extensions/eidas:SPType", namespaces=ns) or "").strip()
    names = tuple(el.get("Name", "") for el in root.iterfind(
        "samlp:Extensions/eidas:RequestedAttributes/eidas:RequestedAttribute", ns))
    return EidasRequest(sp_type, names)


@bp.get("/metadata")
def metadata():
    return metadata_response("eidas-node-idp")


@bp.get("/sso")
def single_sign_on():
    node = _node()
    # signature (on the query string as received), issuer, ACS: or SamlRefused
    info = node.parse_redirect(request.query_string.decode("latin-1"))
    country = (request.args.get("pays") or "").strip().upper()
    if country not in _personas():
        raise UserError(_("Aucun nœud eIDAS simulé pour le pays « %(country)s ».", country=country or "?"),
                        code=404, title=_("Pays inconnu"))
    refused = node.refuse_policy(info)  # InvalidNameIDPolicy
    if refused is not None:
        return post_form(refused)
    eidas = read_extensions(request.args["SAMLRequest"])
    refusal = _profile_refusal(info, eidas)
    if refusal is not None:
        return post_form(node.respond_error(info, *refusal))
    if info.is_passive:  # the node's session serves logout only: choosing a person is a page
        return post_form(node.respond_no_passive(info, _("Le nœud eIDAS doit montrer une page pour authentifier.")))
    key = node.remember(Database.session(), info)
    session["eidas_node"] = {"key": key, "country": country, "requested": list(eidas.requested_attributes)}
    return redirect(url_for("eidas_node.authenticate"))


def _profile_refusal(info: AuthnRequestInfo, eidas: EidasRequest) -> tuple[str, str] | None:
    if eidas.sp_type not in ("public", "private"):
        return STATUS_REQUEST_DENIED, "Demande eIDAS sans eidas:SPType (public ou private)."
    missing = [n.rsplit("/", 1)[-1] for n in MANDATORY if n not in eidas.requested_attributes]
    if missing:
        return STATUS_REQUEST_DENIED, f"Attributs obligatoires non demandés : {', '.join(missing)}."
    if not any(c in LOA_ORDER for c in info.requested_contexts):
        return STATUS_NO_AUTHN_CONTEXT, _("Aucun niveau de garantie eIDAS (http://eidas.europa.eu/LoA/...) demandé.")
    return None


@bp.route("/authentification", methods=["GET", "POST"])
def authenticate():
    if request.method == "POST":  # what was typed first: a too long field is a 400 naming it
        action = form_value("action", _("Action"), fields.ACTION_MAX)
        chosen = form_value("persona", _("Personne"), fields.PERSONA_MAX)
    node = _node()
    db = Database.session()
    state = session.get("eidas_node") or {}
    info = node.recall(db, state.get("key"))  # none, answered or expired: SamlRefused
    country = state["country"]
    people = _personas()[country]
    if request.method == "GET":
        return render_template("idp_csam/eidas/node.html", country=country, people=people,
                               country_name=_country_name(country), labels=LOA_LABELS)
    if action == "annuler":
        form = node.respond_error(info, STATUS_AUTHN_FAILED, _("Authentification annulée par la personne."))
    else:
        persona = next((p for p in people if p.id == chosen), None)
        if persona is None:
            raise UserError(_("Choisissez une des personnes proposées par le nœud eIDAS."))
        if not context_satisfies(persona.loa, info.requested_contexts, info.comparison, LOA_ORDER):
            form = node.respond_error(info, STATUS_NO_AUTHN_CONTEXT,
                                      _("Le moyen d'identification de %(name)s n'atteint pas le niveau de garantie demandé.",
                                        name=persona.given_name + " " + persona.family_name))
        else:
            requested = set(state.get("requested") or MANDATORY)
            attributes = {name: values for name, values in persona.attributes().items()
                          if EIDAS_NATURAL_PERSON + name in requested}
            form = node.respond(info, subject=persona.person_identifier, attributes=attributes,
                                authn_context=persona.loa, shape_assertion=eidas_profile.type_values)
            session[SESSION_KEY] = {"sp": info.sp_entity_id, "name_id": form.name_id,
                                    "format": form.name_id_format, "session_index": form.session_index,
                                    "persona": persona.id, "country": country}
    node.mark_answered(db, state["key"])
    session.pop("eidas_node", None)
    return post_form(form)


@bp.get("/slo")
def single_logout():
    """The connector asks to end the node's session for the person."""
    slo = _slo()
    received = slo.receive(request.query_string.decode("latin-1"), Database.session())  # or SamlRefused
    if received.kind != "request":
        raise SamlRefused(_("Réponse de déconnexion inattendue : le nœud eIDAS n'a demandé aucune déconnexion."))
    known = session.get(SESSION_KEY)
    if known:  # none: nothing to end, Success
        if known.get("sp") != received.issuer:
            return redirect(slo.respond_unknown(received, "le nœud eIDAS n'a authentifié personne pour ce "
                                                          "service dans cette session."))
        mismatch = slo.mismatch(received, known.get("name_id", ""), known.get("session_index"))
        if mismatch:
            return redirect(slo.respond_unknown(received, mismatch))
        session.pop(SESSION_KEY, None)
    return redirect(slo.respond(received))


def _country_name(code: str) -> str:
    # The node only knows codes; CSAM's country list gives the French name.
    from idp_csam.i18n import country_name
    from idp_csam.methods.eidas import countries
    return country_name(code, countries().name(code))
