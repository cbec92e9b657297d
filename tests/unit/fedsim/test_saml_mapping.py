"""fedsim.saml.mapping: the mapping file is validated with errors that name
the file and the key; applied to a login, it gives the fields, refuses a
missing required attribute by name and an unknown level; its converters
honour the NameFormat."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from saml2.saml import NAME_FORMAT_BASIC, NAME_FORMAT_UNSPECIFIED, NAME_FORMAT_URI

from fedsim.saml import mapping
from fedsim.saml.mapping import MappingError
from fedsim.saml.sp import SamlLogin

PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
LEVEL200 = "urn:be:fedict:iam:fas:Level200"
SHIPPED = [Path(__file__).resolve().parents[3] / p for p in ("modigia_sp/data/idp_mapping.yaml",
                                                             "monespace/data/csam_mapping.yaml")]
GOOD = {
    "idp_name": "IdP de test",
    "attributes": {
        "givenName": {"label": "prénom", "required": True, "sources": [
            {"name": "urn:oid:2.5.4.42", "name_format": "uri", "friendly_name": "givenName"},
            {"name": "givenName", "name_format": "basic"}]},
        "username": {"required": True, "sources": [{"name": "uid"}, {"name_id": True}]},
        "mail": {"sources": [{"name": "mail"}]},
    },
    "levels": {PASSWORD: LEVEL200},
}


def write(tmp_path: Path, document: object, name: str = "mapping.yaml") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, allow_unicode=True),
                    encoding="utf-8")
    return path


def login(attributes: dict[str, list[str]], context: str | None = PASSWORD, name_id: str = "nid-1") -> SamlLogin:
    return SamlLogin(issuer="https://idp.example.org/metadata", name_id=name_id, attributes=attributes,
                     authn_context=context, session_index=None, next_url="/")


def changed(path: tuple, value: object) -> dict:
    document = yaml.safe_load(yaml.safe_dump(GOOD))
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


@pytest.mark.parametrize("path, value, where", [
    (("attributes", "givenName", "requierd"), True, "attributes.givenName.requierd"),
    (("attributes", "givenName", "sources"), [], "attributes.givenName.sources"),
    (("attributes", "givenName", "sources", 0, "name_format"), "ldap", "attributes.givenName.sources.0.name_format"),
    (("attributes", "mail", "sources", 0, "name_id"), True, "attributes.mail.sources.0"),
    (("attributes", "mail", "sources", 0, "name"), KeyError, "attributes.mail.sources.0"),
    (("attributes", "givenName", "required"), "souvent", "attributes.givenName.required"),
    (("levels",), {}, "levels"),
    (("levels",), KeyError, "levels"),
    (("levels", PASSWORD), ["a", "b"], f"levels.{PASSWORD}"),
])
def test_a_bad_file_is_refused_naming_the_file_and_the_key(tmp_path: Path, path: tuple, value: object,
                                                           where: str) -> None:
    bad = write(tmp_path, changed(path, value))
    with pytest.raises(MappingError) as caught:
        mapping.load(bad)
    message = str(caught.value)
    assert str(bad) in message and f"— {where} :" in message, message


@pytest.mark.parametrize("text", ["attributes: [", "- a list\n- not a mapping\n", ""])
def test_a_file_that_is_no_mapping_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(MappingError, match=r"Fichier de correspondance .*mapping\.yaml"):
        mapping.load(write(tmp_path, text))


def test_a_missing_file_is_refused_by_path(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"absent\.yaml illisible : FileNotFoundError"):
        mapping.load(tmp_path / "absent.yaml")


def test_one_attribute_cannot_feed_two_fields(tmp_path: Path) -> None:
    document = changed(("attributes", "mail", "sources"), [{"name": "givenName"}])
    with pytest.raises(MappingError, match=r"attributes\.mail\.sources\.0 : l'attribut givenName est déjà la source "
                                           r"de givenName"):
        mapping.load(write(tmp_path, document))


def test_fields_and_level_from_a_login(tmp_path: Path) -> None:
    loaded = mapping.load(write(tmp_path, GOOD))
    mapped = loaded.apply(login({"givenName": ["Ada", "Augusta"], "username": ["ada"]}))
    assert mapped.fields == {"givenName": "Ada", "username": "ada", "mail": ""}
    assert mapped.level == LEVEL200


def test_the_name_id_is_a_candidate_in_its_turn(tmp_path: Path) -> None:
    loaded = mapping.load(write(tmp_path, GOOD))
    assert loaded.apply(login({"givenName": ["Ada"]}, name_id="pairwise-7")).fields["username"] == "pairwise-7"


def test_a_missing_required_attribute_is_named_with_its_candidates(tmp_path: Path) -> None:
    loaded = mapping.load(write(tmp_path, GOOD))
    with pytest.raises(ValueError) as caught:
        loaded.apply(login({"username": ["ada"]}))
    assert str(caught.value) == ("L'attribut prénom (urn:oid:2.5.4.42 « givenName » ou givenName) manque dans "
                                 "l'assertion de IdP de test (https://idp.example.org/metadata).")


@pytest.mark.parametrize("context", ["urn:oasis:names:tc:SAML:2.0:ac:classes:X509", None])
def test_an_unknown_level_is_refused_naming_it_and_the_idp(tmp_path: Path, context: str | None) -> None:
    loaded = mapping.load(write(tmp_path, GOOD))
    with pytest.raises(ValueError, match=r"Niveau d'authentification inconnu : « .+ » envoyé par IdP de test "
                                         r"\(https://idp\.example\.org/metadata\)") as caught:
        loaded.apply(login({"givenName": ["Ada"], "username": ["ada"]}, context))
    assert (context or "(aucun)") in str(caught.value)


def test_converters_rename_only_the_name_format_given(tmp_path: Path) -> None:
    converters = mapping.load(write(tmp_path, GOOD)).converters()
    table = {(c.name_format, remote): local for c in converters for remote, local in c._fro.items()}  # noqa: SLF001
    assert table[(NAME_FORMAT_URI, "urn:oid:2.5.4.42")] == "givenName"
    assert (NAME_FORMAT_BASIC, "urn:oid:2.5.4.42") not in table
    assert table[(NAME_FORMAT_BASIC, "givenname")] == "givenName"
    assert (NAME_FORMAT_URI, "givenname") not in table
    # "any" (the default): every NameFormat, and none at all (unspecified)
    assert all(table[(f, "uid")] == "username" for f in (NAME_FORMAT_BASIC, NAME_FORMAT_URI,
                                                         NAME_FORMAT_UNSPECIFIED, ""))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_mappings_load(path: Path) -> None:
    loaded = mapping.load(path)
    assert loaded.file.levels and any(rule.required for rule in loaded.file.attributes.values())


def test_an_sp_can_require_its_fields_and_levels(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    loaded = mapping.load(path)
    assert loaded.require_fields(("givenName", "username")).require_levels({LEVEL200, "other"}) is loaded
    with pytest.raises(MappingError, match=rf"{path} invalide — attributes : egovNRN manque"):
        loaded.require_fields(("givenName", "egovNRN"))
    with pytest.raises(MappingError, match=rf"levels\.{PASSWORD} : {LEVEL200} n'est pas un niveau de ce service"):
        loaded.require_levels({"urn:be:fedict:iam:fas:Level500"})
