"""The hostile-IdP catalogue: what a SAML SP must refuse.

A ``Case`` has an id, a group, a one-line explanation, a reference (SAML
spec section, CVE, paper) and a ``build`` function that, given the
``Attack`` under way (the fresh AuthnRequest, a ``Forge`` bound to it, the
attacker's and the victim's identities), returns what to post at the ACS
(``Forged``). ``victim``: the message smuggles the victim's identity in
(then a login as the victim is reported VICTIM). ``expect``: "refused" for
a hostile case, "login" for the baseline, "no_offsite" for redirect abuse
(a login may happen; leaving the SP's site must not). ``skip``: given the
``Target``, why the case does not apply to it (None: it does) — the
encryption cases that need the SP's encryption key.

The cases live in ``cases_wrapping`` (XSW, signatures removed or made with
a foreign key), ``cases_signature`` (algorithms, references, transforms,
canonicalisation), ``cases_profile`` (time, binding to the request,
audience, subject), ``cases_message`` (status, XML, RelayState) and
``cases_encryption`` (EncryptedAssertion); ``CATALOGUE`` holds them all,
baseline first. The baseline is what the trusted IdP would send: its
assertion encrypted for an SP whose metadata publishes an encryption key.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from fedsim.saml.encryption import Recipient
from fedsim_harness.attack import selection
from fedsim_harness.attack.forge import (
    Forge,
    Identity,
    SeenRequest,
    assertion_of,
    encode,
    to_bytes,
)


@dataclass(frozen=True)
class Forged:
    """What the hostile IdP posts: a document (base64-encoded by the driver)
    or the ``SAMLResponse`` value as is (``encoded``); the RelayState to send
    (None: the request's; ``omit_relay_state``: none at all)."""
    xml: bytes | None = None
    encoded: str | None = None
    relay_state: str | None = None
    omit_relay_state: bool = False

    @property
    def saml_response(self) -> str:
        return self.encoded if self.encoded is not None else encode(self.xml or b"")


def doc(root) -> Forged:
    return Forged(xml=to_bytes(root))


class Attack(Protocol):
    """What a case can use while it is built (the driver provides it)."""
    forge: Forge            # answers the current request as the trusted IdP
    request: SeenRequest    # the AuthnRequest the SP just sent
    attacker: Identity      # whom the genuine signed parts name
    victim: Identity        # whom the tampered parts name
    recipient: Recipient | None  # the SP's encryption key from its metadata (None: it publishes none)

    def other_login(self) -> OtherBrowser: ...


class OtherBrowser(Protocol):
    """A second browser that started its own login at the same SP."""
    request: SeenRequest

    def post(self, forged: Forged) -> int: ...  # the ACS's HTTP status


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    title: str
    reference: str
    build: Callable[[Attack], Forged]
    victim: bool = False
    expect: str = "refused"            # "refused" | "login" | "no_offsite"
    login_next: str | None = None      # a next= parameter for the SP's login URL (redirect abuse)
    second_answer: bool = False        # the browser is first logged in as the attacker (replays)
    skip: Callable[[object], str | None] | None = None  # Target -> why the case does not apply (None: it does)


GROUPS = {
    "baseline": "A correct Response: it must log in",
    "xsw": "XML Signature Wrapping (XSW1–XSW8 and variants)",
    "signature": "Signatures removed, misplaced, made with another key",
    "algorithm": "Algorithm downgrade and confusion",
    "reference": "References, IDs and transforms",
    "c14n": "Canonicalisation tricks (comments, whitespace, namespaces)",
    "time": "Validity windows and clock skew",
    "binding": "Binding to the request (InResponseTo, replay, other SP)",
    "audience": "Audience, Destination, Recipient, Issuer",
    "subject": "Subject confirmation and NameID",
    "status": "Status codes and number of assertions",
    "xml": "XML attacks (DTD, entities, size, depth)",
    "redirect": "RelayState and redirect abuse",
    "encryption": "Encrypted assertions (algorithms, keys, what the ciphertext hides)",
}


def encrypted_baseline(attack: Attack) -> Forged:
    """What our IdPs send an SP that publishes an encryption key: the
    signed Assertion encrypted for that key, then the Response signed."""
    from fedsim_harness.attack.encrypt import encrypt

    forge = attack.forge
    root = forge.signed(forge.response(), response=False)
    encrypt(assertion_of(root), attack.recipient)
    forge.sign(root)
    return doc(root)


def _baseline(attack: Attack) -> Forged:
    if attack.recipient is not None:
        return encrypted_baseline(attack)
    return doc(attack.forge.baseline())


BASELINE = Case("baseline", "baseline", "A correct Response (signed Assertion in a signed Response, the assertion "
                "encrypted when the SP publishes an encryption key) answering the SP's request: the SP must log "
                "the person in", "SAML Profiles §4.1.4", _baseline, expect="login")


@functools.cache
def all_cases() -> tuple[Case, ...]:
    """Every case, baseline first (built on first use: the case modules
    import this one for ``Case``, so they may be imported in any order)."""
    from fedsim_harness.attack import (
        cases_encryption,
        cases_message,
        cases_profile,
        cases_signature,
        cases_wrapping,
    )

    return selection.checked((BASELINE, *cases_wrapping.CASES, *cases_signature.CASES, *cases_profile.CASES,
                              *cases_message.CASES, *cases_encryption.CASES), GROUPS)


def __getattr__(name: str):
    if name == "CATALOGUE":
        return all_cases()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def select(groups: Iterable[str] = (), ids: Iterable[str] = ()) -> tuple[Case, ...]:
    """The cases of ``groups`` and ``ids`` (all when both are empty), in
    catalogue order, the baseline always first. Unknown names: ValueError."""
    return selection.choose(all_cases(), BASELINE, GROUPS, groups, ids)
