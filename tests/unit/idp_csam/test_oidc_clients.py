"""CSAM's OpenID Connect clients file (idp_csam.oidc.clients), PKCE and the
at_hash of idp_csam.oidc.tokens, the FAS minimum of idp_csam.authn.reaches."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from fedsim.levels import LEVEL300, LEVEL450, LEVEL500
from idp_csam.authn import reaches
from idp_csam.oidc import clients, tokens


def test_register_writes_only_the_secrets_digest(tmp_path: Path) -> None:
    path = tmp_path / "oidc_clients.yaml"
    client, secret = clients.register(path, ["https://rp.example/cb"], client_id="a",
                                      scopes=["openid", "egovnrn"], auth_method="client_secret_post")
    assert secret and secret not in path.read_text()
    entry = yaml.safe_load(path.read_text())["clients"][0]
    assert entry["client_secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    loaded = clients.load(path)["a"]
    assert loaded == client and loaded.secret_matches(secret) and not loaded.secret_matches(secret + "x")
    assert loaded.token_endpoint_auth_method == "client_secret_post" and loaded.scopes == ("openid", "egovnrn")
    public, none = clients.register(path, ["https://rp.example/cb"], public=True)
    assert none is None and public.public and not public.secret_matches("")
    assert set(clients.load(path)) == {"a", public.client_id}
    with pytest.raises(clients.ClientsFileError, match="already registered"):
        clients.register(path, ["https://rp.example/other"], client_id="a")


@pytest.mark.parametrize("entry, message", [
    ({"client_id": "x", "redirect_uris": ["https://a/cb"]}, "confidential client needs client_secret"),
    ({"client_id": "x", "public": True, "client_secret": "s" * 20, "redirect_uris": ["https://a/cb"]},
     "public client"),
    ({"client_id": "x", "public": True, "redirect_uris": []}, "at least one of redirect_uris"),
    ({"client_id": "x", "public": True, "redirect_uris": ["https://a/cb#frag"]}, "without fragment"),
    ({"client_id": "x y", "public": True, "redirect_uris": ["https://a/cb"]}, "client_id"),
    ({"client_id": "x", "public": True, "redirect_uris": ["https://a/cb"], "scopes": ["profile"]}, "openid"),
    ({"client_id": "x", "public": True, "redirect_uris": ["https://a/cb"], "scopes": ["openid", {"a": 1}]},
     "scopes"),
    ({"client_id": "x", "public": True, "redirect_uris": ["https://a/cb"], "token_endpoint_auth_method": "tls"},
     "token_endpoint_auth_method"),
    ({"client_id": "x", "public": True, "redirect_uris": ["https://a/cb"], "colour": "red"}, "unknown keys"),
])
def test_an_invalid_client_is_refused_with_the_reason(entry: dict, message: str) -> None:
    with pytest.raises(clients.ClientsFileError, match=message):
        clients.parse(yaml.safe_dump({"clients": [entry]}), "f.yaml")


def test_the_registry_rereads_a_changed_file_and_refuses_a_broken_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "oidc_clients.yaml"
    registry = clients.Registry((clients.BUNDLED_FILE, path))
    assert set(registry.clients()) == {"fedsim-scenario-rp"}
    clients.register(path, ["https://rp.example/cb"], public=True, client_id="new")
    assert registry.get("new") is not None
    path.write_text(path.read_text() + "- {client_id: bad}\n")  # no redirect_uris
    os.utime(path, ns=(1, 1))  # a different stamp, whatever the file system's resolution
    assert registry.get("new") is None and registry.get("fedsim-scenario-rp") is not None


def test_pkce_s256_and_at_hash() -> None:
    # RFC 7636 appendix B
    assert tokens.s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    # OIDC Core A.3 (at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", RS256)
    assert tokens.at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y") == "77QmUPtjPfzWtF2AnpK9RQ"


def test_acr_values_are_a_minimum_over_the_fas_order() -> None:
    assert reaches(LEVEL500, LEVEL450) and reaches(LEVEL450, LEVEL450) and not reaches(LEVEL300, LEVEL450)
    assert reaches(LEVEL300, None) and not reaches("urn:other", LEVEL300) and not reaches(LEVEL500, "urn:other")
