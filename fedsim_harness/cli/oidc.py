"""``fedsim oidc clients|register``: the OpenID Connect relying parties of
CSAM (idp_csam.oidc.clients).

They work on CSAM's registration file (``instance/idp_csam/
oidc_clients.yaml``, or ``IDP_CSAM_OIDC_CLIENTS_FILE``: the settings of
``fedsim up``), so they work whether or not the federation runs; a running
CSAM reads the file again when it changes."""
from __future__ import annotations

import os
from pathlib import Path

import click

from fedsim.federation import Settings
from fedsim_harness.daemon import FedsimError

AUTH_METHODS = ("client_secret_basic", "client_secret_post")
SCOPES = ("openid", "profile", "email", "egovnrn")  # idp_csam.oidc.clients.SCOPES


def _registry():
    """Imported when a command runs: importing CSAM loads pysaml2, whose
    warnings the ``fedsim`` group silences only once it is built."""
    from idp_csam.oidc import clients
    return clients


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``fedsim`` group."""
    cli.add_command(oidc)


def _file(settings: Settings) -> Path:
    return _registry().registration_file({"OIDC_CLIENTS_FILE": os.environ.get("IDP_CSAM_OIDC_CLIENTS_FILE"),
                                       "FEDSIM_SETTINGS": settings})


@click.group()
def oidc() -> None:
    """CSAM's OpenID Connect clients (CSAM is an OpenID Provider too).

    Discovery: <CSAM>/.well-known/openid-configuration."""


@oidc.command("clients")
@click.pass_obj
def clients_(settings: Settings) -> None:
    """List the clients CSAM knows: the bundled demo client and the registered ones."""
    registry = _registry()
    path = _file(settings)
    click.secho(f"CSAM's OpenID Provider: {settings.base_url('idp_csam')}", bold=True)
    click.echo(f"  discovery  {settings.base_url('idp_csam')}/.well-known/openid-configuration")
    click.echo(f"  file       {path}")
    found = []
    for source, where in ((registry.BUNDLED_FILE, "bundled"), (path, "registered")):
        try:
            found += [(where, c) for c in registry.load(source).values()]
        except registry.ClientsFileError as exc:
            raise FedsimError(f"{exc}\nCSAM refuses this file until it is fixed: its clients are unknown.") from None
    for where, client in found:
        kind = "public (PKCE S256)" if client.public else f"confidential ({client.token_endpoint_auth_method})"
        click.echo(f"\n  {client.client_id}  [{where}] {kind}")
        click.echo(f"    redirect     {', '.join(client.redirect_uris)}")
        if client.post_logout_redirect_uris:
            click.echo(f"    after logout {', '.join(client.post_logout_redirect_uris)}")
        click.echo(f"    scopes       {' '.join(client.scopes)}")


@oidc.command("register")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="A redirect URI of the client (repeatable), exactly as it will send it.")
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True,
              help="Where CSAM may send the person after logout (repeatable).")
@click.option("--public", is_flag=True, help="A public client (no secret): PKCE S256 is then required.")
@click.option("--client-id", default=None, help="Its client_id (default: a new random one).")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="A scope it may ask for (repeatable; default: openid profile email). egovnrn releases "
                   "the national register number.")
@click.option("--auth-method", type=click.Choice(AUTH_METHODS), default=None,
              help="How a confidential client authenticates at the token endpoint (default: client_secret_basic).")
@click.pass_obj
def register_(settings: Settings, redirect_uris: tuple[str, ...], logout_uris: tuple[str, ...], public: bool,
              client_id: str | None, scopes: tuple[str, ...], auth_method: str | None) -> None:
    """Register a client in CSAM's registration file; prints its client_id
    and, for a confidential client, its secret (shown once: the file keeps
    only its SHA-256)."""
    if public and auth_method:
        raise FedsimError("--auth-method is for a confidential client: a public client authenticates with none")
    chosen = list(dict.fromkeys(("openid", *scopes))) if scopes else None
    registry = _registry()
    path = _file(settings)
    try:
        client, secret = registry.register(path, list(redirect_uris), public=public, client_id=client_id,
                                           post_logout_redirect_uris=list(logout_uris), scopes=chosen,
                                           auth_method=auth_method)
    except registry.ClientsFileError as exc:
        raise FedsimError(str(exc)) from None
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
    click.echo(f"token_endpoint_auth_method: {client.token_endpoint_auth_method}")
    click.echo(f"issuer: {settings.base_url('idp_csam')}")
    click.echo(f"Registered in {path}; a running CSAM knows it at once.")
