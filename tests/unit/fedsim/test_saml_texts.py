"""``said``: a refusal's reason is the French text (a ``str``) and keeps its
template and variables, so fedsim.web can show it in the page's language."""
from __future__ import annotations

import pickle

import pytest
from flask import Flask

from fedsim.saml.errors import SamlRefused
from fedsim.saml.texts import Said, said
from fedsim.web import shown_reason


def test_said_is_the_french_text_and_keeps_how_it_was_made() -> None:
    text = said("Service inconnu : %(issuer)s n'est pas enregistré.", issuer="https://sp.example/x")
    assert isinstance(text, str) and isinstance(text, Said)
    assert text == "Service inconnu : https://sp.example/x n'est pas enregistré."
    assert str(text) == text and f"{text}" == text and "Service inconnu" in text
    assert text.template == "Service inconnu : %(issuer)s n'est pas enregistré."
    assert text.variables == {"issuer": "https://sp.example/x"}


def test_said_without_variables_is_the_template_itself() -> None:
    text = said("Aucun message SAML dans l'URL.")
    assert text == text.template == "Aucun message SAML dans l'URL." and text.variables == {}


def test_a_fragment_variable_reads_as_its_french_text() -> None:
    text = said("Signature absente : %(where)s doit être signée.", where=said("la Response"))
    assert text == "Signature absente : la Response doit être signée."
    assert text.variables["where"].template == "la Response"


def test_said_survives_a_copy_through_pickle() -> None:
    copy = pickle.loads(pickle.dumps(said("Paramètre %(name)s répété.", name="RelayState")))
    assert copy == "Paramètre RelayState répété." and copy.template == "Paramètre %(name)s répété."


def test_a_refusal_keeps_the_marked_reason() -> None:
    refused = SamlRefused(said("Message de déconnexion sans %(name)s valide.", name="ID"), "detail")
    assert refused.reason == str(refused) == "Message de déconnexion sans ID valide."
    assert refused.reason.template == "Message de déconnexion sans %(name)s valide."


def test_shown_reason_is_french_where_the_app_does_not_translate() -> None:
    app = Flask("plain")  # no Flask-Babel: Mon Espace, Modigia
    with app.test_request_context("/"):
        assert shown_reason(said("Signature absente : %(where)s doit être signée.", where=said("la Response"))) \
            == "Signature absente : la Response doit être signée."
        assert shown_reason("un texte sans marque") == "un texte sans marque"


@pytest.mark.parametrize(("lang", "expected"), [
    ("nl", "Handtekening ontbreekt: de Response moet door de identiteitsprovider ondertekend zijn."),
    ("de", "Signatur fehlt: die Response muss vom Identitätsanbieter signiert sein."),
    ("fr", "Signature absente : la Response doit être signée par le fournisseur d'identité."),
])
def test_shown_reason_translates_the_template_and_its_fragments_at_csam(lang: str, expected: str) -> None:
    from idp_csam import i18n

    app = Flask("csam-like")  # Flask-Babel with CSAM's catalogues and language choice
    i18n.init_app(app)
    reason = said("Signature absente : %(where)s doit être signée par le fournisseur d'identité.",
                  where=said("la Response"))
    with app.test_request_context(f"/?lang={lang}"):
        assert shown_reason(reason) == expected


def test_an_eidas_attribute_type_refusal_stays_translatable() -> None:
    """fedsim.saml.eidas refuses a badly typed attribute with a ValueError
    that CSAM's connector shows (fedsim.saml.sp turns it into the refusal's
    reason as given): its text is marked too."""
    from fedsim.saml import eidas

    with pytest.raises(ValueError) as raised:
        eidas.check_types({"DateOfBirth": ["1980-13-45"]}, {"DateOfBirth": [eidas.expected_type("DateOfBirth")]})
    reason = raised.value.args[0]
    assert isinstance(reason, Said) and str(raised.value) == reason
    assert reason == ("Attribut eIDAS DateOfBirth invalide ('1980-13-45') : une date xsd:date au format "
                      "AAAA-MM-JJ est exigée.")
