"""Naming the SP to attack: our SPs, a metadata file, a registered entity ID."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fedsim.federation import Settings
from fedsim.saml.registry import PLACES
from fedsim_harness.attack import targets

METADATA = b"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/md">
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
 Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance")


def test_our_sps_have_defaults(settings: Settings) -> None:
    modigia, portal = targets.builtin(settings, "modigia"), targets.builtin(settings, "monespace")
    assert (modigia.idp, portal.idp) == ("cerbere", "csam")
    assert targets.builtin(settings, modigia.sp_entity_id) == modigia
    assert targets.builtin(settings, "someone-else") is None


def test_a_metadata_file_names_the_sp_and_its_acs(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "sp.xml"
    path.write_bytes(METADATA)
    target = targets.resolve(settings, str(path), login_url="https://sp.example/login",
                             protected_url="https://sp.example/me")
    assert (target.sp_entity_id, target.acs_url, target.idp) == ("https://sp.example/md", "https://sp.example/acs",
                                                                 "cerbere")


def test_an_entity_id_registered_at_csam_is_attacked_as_csam(settings: Settings, monkeypatch) -> None:
    monkeypatch.delenv(PLACES["csam"].dir_env, raising=False)
    folder, _ = PLACES["csam"].folder(settings.instance_dir)
    folder.mkdir(parents=True)
    (folder / "sp.xml").write_bytes(METADATA)
    target = targets.resolve(settings, "https://sp.example/md", login_url="https://sp.example/login",
                             protected_url="https://sp.example/me")
    assert (target.idp, target.acs_url) == ("csam", "https://sp.example/acs")


def test_an_unknown_sp_needs_its_urls(settings: Settings) -> None:
    with pytest.raises(targets.TargetError, match="--login"):
        targets.resolve(settings, "https://nowhere.example/md", login_url=None, protected_url=None)


def test_metadata_without_an_sp_is_refused() -> None:
    with pytest.raises(targets.TargetError, match="SPSSODescriptor"):
        targets.from_metadata(b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                              b'entityID="x"/>', idp="cerbere", login_url="a", protected_url="b")
