"""``fedsim oidc register`` and ``fedsim oidc clients``: the registration
file CSAM reads (instance/idp_csam/oidc_clients.yaml)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fedsim_harness.cli import cli
from idp_csam.oidc import clients


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEDSIM_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("IDP_CSAM_OIDC_CLIENTS_FILE", raising=False)
    return tmp_path


def test_register_then_list(instance: Path) -> None:
    result = CliRunner().invoke(cli, ["oidc", "register", "--redirect-uri", "https://rp.example/cb",
                                      "--scope", "egovnrn", "--post-logout-redirect-uri", "https://rp.example/"])
    assert result.exit_code == 0, result.output
    client_id = re.search(r"^client_id: (\S+)$", result.output, re.MULTILINE).group(1)
    secret = re.search(r"^client_secret: (\S+)$", result.output, re.MULTILINE).group(1)
    registered = clients.load(instance / "idp_csam" / clients.FILE_NAME)[client_id]
    assert registered.secret_matches(secret) and registered.scopes == ("openid", "egovnrn")
    assert registered.post_logout_redirect_uris == ("https://rp.example/",)
    public = CliRunner().invoke(cli, ["oidc", "register", "--redirect-uri", "https://spa.example/cb", "--public",
                                      "--client-id", "spa"])
    assert public.exit_code == 0 and "client_secret" not in public.output
    listed = CliRunner().invoke(cli, ["oidc", "clients"])
    assert listed.exit_code == 0
    assert f"{client_id}  [registered] confidential (client_secret_basic)" in listed.output
    assert "spa  [registered] public (PKCE S256)" in listed.output and "fedsim-scenario-rp  [bundled]" in listed.output


@pytest.mark.parametrize("args, message", [
    (["--redirect-uri", "ftp://rp.example/cb"], "not an absolute http(s) URI"),
    (["--redirect-uri", "https://rp.example/cb", "--public", "--auth-method", "client_secret_post"],
     "--auth-method is for a confidential client"),
])
def test_register_refuses_with_the_reason(instance: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["oidc", "register", *args])
    assert result.exit_code == 1 and message in result.output
    assert not (instance / "idp_csam" / clients.FILE_NAME).exists()
