"""Which attributes an IdP releases to an SP, and under which SAML names:
pysaml2's attribute policy (the SP's RequestedAttributes in metadata, the
configuration's restrictions) and attribute converters (local name → Name,
NameFormat, FriendlyName), applied to plain dicts — the same rules as
pysaml2's ``Server._authn_response``, without building its objects."""
from __future__ import annotations

from datetime import timedelta

from saml2.config import Config
from saml2.saml import NAME_FORMAT_URI

from fedsim.saml.build import Attribute


def released(config: Config, sp_entity_id: str, identity: dict[str, list[str]]) -> list[Attribute]:
    """The attributes of ``identity`` the policy releases to ``sp_entity_id``,
    in ``identity``'s order, named as pysaml2's ``from_local`` names them."""
    policy = config.getattr("policy", "idp")
    if policy is not None and identity:
        policy.acs = config.attribute_converters  # what pysaml2's Assertion.apply_policy sets
        allowed = policy.restrict(dict(identity), sp_entity_id)
        identity = {name: allowed[name] for name in identity if name in allowed}
    name_format = policy.get_name_form(sp_entity_id) if policy is not None else None
    converter = next((c for c in config.attribute_converters if c.name_format == name_format), None)
    if converter is None:  # pysaml2: no converter for the NameFormat, an empty AttributeStatement
        return []
    attributes = []
    for local, values in identity.items():
        values = [values] if isinstance(values, str) else list(values)
        name = (converter._to or {}).get(local.lower())  # noqa: SLF001 - pysaml2's map, as its to_() reads it
        if name:
            attributes.append(Attribute(name=name, values=tuple(values), name_format=converter.name_format,
                                        friendly_name=local))
        else:  # pysaml2's saml.Attribute defaults NameFormat to uri
            attributes.append(Attribute(name=local, values=tuple(values), name_format=NAME_FORMAT_URI))
    return attributes


def assertion_lifetime(config: Config, sp_entity_id: str) -> timedelta:
    """How long an assertion for ``sp_entity_id`` may be delivered (the
    policy's ``lifetime``; pysaml2's default: an hour)."""
    policy = config.getattr("policy", "idp")
    lifetime = policy.get_lifetime(sp_entity_id) if policy is not None else {"hours": 1}
    return timedelta(**lifetime)
