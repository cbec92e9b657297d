"""pysaml2 configurations built from the federation's entity table.

RSA-SHA256 / SHA-256 everywhere; pysaml2 only honours the algorithm settings
inside ``service.idp`` / ``service.sp``, so they are set there.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.attribute_converter import AttributeConverter
from saml2.config import Config
from saml2.saml import NAME_FORMAT_BASIC, NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from fedsim import certs
from fedsim.federation import Entity
from fedsim.saml import xmlsec_backend
from fedsim.saml import timing

ATTRIBUTE_MAPS = str(Path(__file__).parent / "attributemaps")

# eIDAS SAML profile: natural-person attributes, NameFormat uri, and which of
# them the eIDAS minimum data set makes mandatory.
EIDAS_NATURAL_PERSON = "http://eidas.europa.eu/attributes/naturalperson/"
EIDAS_ATTRIBUTES = {  # local (friendly) name -> required
    "PersonIdentifier": True, "CurrentFamilyName": True, "CurrentGivenName": True, "DateOfBirth": True,
    "BirthName": False, "PlaceOfBirth": False, "CurrentAddress": False, "Gender": False,
}
# What an SP of the federation asks its IdP for in its metadata
# (md:AttributeConsumingService, NameFormat basic): (required, optional).
# CSAM releases the national register number (egovNRN) only to an SP whose
# metadata requests it.
REQUESTED_ATTRIBUTES = {
    "monespace-sp": (("egovNRN", "givenName", "surname"),
                     ("mail", "PrefLanguage", "urn:be:fedict:iam:attr:fedid",
                      "urn:be:fedict:iam:attr:authenticationmethod")),
}
# Private key of config_dict's result (popped by ``load``): add the eIDAS
# attribute converter to the loaded configuration.
_EIDAS_FLAG = "fedsim_eidas"


def eidas_converter() -> AttributeConverter:
    """Local name <-> http://eidas.europa.eu/attributes/naturalperson/<name>, NameFormat uri."""
    converter = AttributeConverter(NAME_FORMAT_URI)
    converter.from_dict({"identifier": NAME_FORMAT_URI,
                         "fro": {EIDAS_NATURAL_PERSON + n: n for n in EIDAS_ATTRIBUTES},
                         "to": {n: EIDAS_NATURAL_PERSON + n for n in EIDAS_ATTRIBUTES}})
    return converter


# The setting that makes an SP of the federation publish an encryption key
# and refuse plain assertions: its app's config key and the environment
# variable its app reads it from (``app.config.from_prefixed_env``), read
# here too so that the metadata every process writes agrees with the app.
ENCRYPTION_SETTINGS = {
    "modigia-sp": ("WANT_ASSERTIONS_ENCRYPTED", "MODIGIA_WANT_ASSERTIONS_ENCRYPTED"),
    "monespace-sp": ("SAML_SP_WANT_ASSERTIONS_ENCRYPTED", "MONESPACE_SAML_SP_WANT_ASSERTIONS_ENCRYPTED"),
}


def wants_encryption(entity_name: str, app_config: Mapping | None = None,
                     environ: Mapping[str, str] | None = None) -> bool:
    """Whether the SP ``entity_name`` wants encrypted assertions: its app's
    config key if given, else its environment variable (read as Flask's
    ``from_prefixed_env`` reads it: JSON, ``true``/``false``/``1``/``0``)."""
    if entity_name not in ENCRYPTION_SETTINGS:
        return False
    key, variable = ENCRYPTION_SETTINGS[entity_name]
    if app_config is not None and key in app_config:
        return bool(app_config[key])
    value = (os.environ if environ is None else environ).get(variable)
    if value is None:
        return False
    try:
        return bool(json.loads(value))
    except ValueError:
        return bool(value)


def metadata_file(certs_dir: Path, entity: Entity) -> Path:
    return certs_dir / f"{entity.name}.xml"


def config_dict(entity: Entity, certs_dir: Path, peer_metadata: list[Path] | None = None,
                *, assertion_lifetime_minutes: int = 5, accepted_time_diff: int = 60,
                metadata_urls: list[str] | None = None, metadata_fetch_timeout: float = 10,
                eidas: bool = False, encryption: bool = False) -> dict:
    """``peer_metadata``: metadata files to trust; ``metadata_urls``: metadata
    fetched over HTTP(S) when the configuration is loaded (pysaml2 "remote"
    source, unsigned metadata accepted: no ``cert`` to check it against).
    ``eidas`` (off by default): the eIDAS SAML profile — an SP puts
    ``eidas:SPType`` public and the mandatory ``eidas:RequestedAttributes`` in
    its AuthnRequests; an IdP sends attributes with NameFormat uri; both map
    the natural-person attribute names (``EIDAS_ATTRIBUTES``).
    ``encryption`` (an SP; off by default): its encryption key pair
    (``certs/<name>-enc.key|.crt``, made if missing), published in its
    metadata with ``use="encryption"`` (IdPs then encrypt its assertions)."""
    pair = certs.key_pair(certs_dir, entity.name)
    algorithms = {"signing_algorithm": SIG_RSA_SHA256, "digest_algorithm": DIGEST_SHA256}
    if entity.role == "idp":
        service = {"idp": {
            "name": entity.display_name,
            "endpoints": {"single_sign_on_service": [(entity.url("sso"), BINDING_HTTP_REDIRECT)],
                          "single_logout_service": [(entity.url("slo"), BINDING_HTTP_REDIRECT)]},
            "want_authn_requests_signed": True,
            "sign_response": True,
            "sign_assertion": True,
            "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
            "policy": {"default": {
                "lifetime": {"minutes": assertion_lifetime_minutes},
                "name_form": NAME_FORMAT_BASIC,
                # An SP whose metadata lists RequestedAttributes gets those
                # the IdP has; a required one the IdP lacks is left out.
                # (pysaml2 7.5.5's default, True, then skips the filtering
                # and releases every attribute: Server._authn_response
                # hard-codes best_effort.)
                "fail_on_missing_requested": False,
            }},
            **algorithms,
        }}
    else:
        service = {"sp": {
            "name": entity.display_name,
            "endpoints": {"assertion_consumer_service": [(entity.url("acs"), BINDING_HTTP_POST)],
                          "single_logout_service": [(entity.url("slo"), BINDING_HTTP_REDIRECT)]},
            "authn_requests_signed": True,
            "want_response_signed": True,
            "want_assertions_signed": True,
            "want_assertions_or_response_signed": True,
            "allow_unsolicited": False,
            "only_use_keys_in_metadata": True,
            "name_id_format": NAMEID_FORMAT_PERSISTENT,
            "requested_attribute_name_format": NAME_FORMAT_BASIC,
            **algorithms,
        }}
    if entity.name in REQUESTED_ATTRIBUTES and not eidas:
        required, optional = REQUESTED_ATTRIBUTES[entity.name]
        service["sp"].update({"required_attributes": list(required), "optional_attributes": list(optional)})
    if eidas and entity.role == "idp":
        service["idp"]["policy"]["default"]["name_form"] = NAME_FORMAT_URI
    elif eidas:
        service["sp"].update({
            "sp_type": "public",
            "sp_type_in_metadata": False,  # in each AuthnRequest, as eIDAS nodes expect
            "requested_attributes": [
                {"name": EIDAS_NATURAL_PERSON + name, "friendly_name": name,
                 "name_format": NAME_FORMAT_URI, "required": required}
                for name, required in EIDAS_ATTRIBUTES.items() if required],
        })
    conf = {
        "entityid": entity.entity_id,
        "name": entity.display_name,
        # md:Organization: the name peers show people (e.g. a partial logout
        # page naming the service that did not confirm).
        "organization": {"name": [(entity.display_name, "fr")], "display_name": [(entity.display_name, "fr")],
                         "url": [(entity.base_url, "fr")]},
        "service": service,
        "key_file": str(pair.key_file),
        "cert_file": str(pair.cert_file),
        "attribute_map_dir": ATTRIBUTE_MAPS,
        "allow_unknown_attributes": True,
        "only_use_keys_in_metadata": True,
        "accepted_time_diff": accepted_time_diff,
    }
    if eidas:
        conf[_EIDAS_FLAG] = True
    if encryption and entity.role == "sp":
        encryption_pair = certs.ensure(certs_dir, certs.encryption_name(entity.name),
                                       f"{entity.entity_id} (chiffrement)")
        conf["encryption_keypairs"] = [{"key_file": str(encryption_pair.key_file),
                                        "cert_file": str(encryption_pair.cert_file)}]
    if peer_metadata:
        conf["metadata"] = {"local": [str(p) for p in peer_metadata]}
    if metadata_urls:
        conf.setdefault("metadata", {})["remote"] = [{"url": url, "cert": None} for url in metadata_urls]
        conf["http_client_timeout"] = metadata_fetch_timeout  # pysaml2 waits forever by default
    return conf


def load(conf: dict) -> Config:
    xmlsec_backend.install()
    timing.install()
    conf = dict(conf)
    eidas = conf.pop(_EIDAS_FLAG, False)
    config = Config()
    config.load(conf)
    if eidas:
        config.attribute_converters.append(eidas_converter())
    return config
