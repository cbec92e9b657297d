"""``fedsim sp add|list|remove``: the service providers Cerbère and CSAM serve
besides their built-in peer.

They work on the IdPs' metadata folders (``instance/monespace/sp-metadata``,
``instance/idp_csam/sp-metadata``, or ``MONESPACE_SP_METADATA_DIR`` /
``IDP_CSAM_SP_METADATA_DIR``: the settings of ``fedsim up``), so they work
whether or not the federation runs; a running federation picks the change
up by itself within a second (see fedsim.saml.registry)."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from fedsim.federation import Settings
from fedsim.saml.registry import PLACES, RegistryState
from fedsim_harness import sp_folder
from fedsim_harness.daemon import FedsimError

IDPS = tuple(PLACES)


@contextmanager
def _quiet() -> Iterator[None]:
    """No log lines from the registry and pysaml2: the command says it all."""
    loggers = [logging.getLogger(name) for name in ("fedsim.saml.registry", "saml2")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``fedsim`` group."""
    cli.add_command(sp)


def _idp_option(default: str | None):  # noqa: ANN202 - a click decorator
    return click.option("--idp", type=click.Choice(IDPS), default=default, show_default=bool(default),
                        help="The identity provider: cerbere (Cerbère Citoyen, in Mon Espace) or csam."
                             + ("" if default else " Default: both."))


@click.group()
def sp() -> None:
    """Add, list, remove the service providers of Cerbère and CSAM (live).

    The running federation follows the IdPs' metadata folders: no restart."""


@sp.command("add")
@click.argument("source")
@_idp_option("cerbere")
@click.pass_obj
def add(settings: Settings, source: str, idp: str) -> None:
    """Register the SP whose SAML metadata is in SOURCE, a file or a URL.

    The metadata is checked first and refused, with the reason, when the IdP
    cannot use it. It is copied into the IdP's metadata folder (a URL is
    fetched once, 10 s timeout, and stored as a file); an SP registered
    before by a file of that folder is updated."""
    path = Path(source)
    try:
        with _quiet():
            registry = sp_folder.open_registry(settings, idp)
            if path.is_file():
                xml, label = path.read_bytes(), path
            else:
                xml, label = sp_folder.fetch(source), source
            added = sp_folder.add(registry, xml, label)
    except sp_folder.Refused as exc:
        raise FedsimError(str(exc)) from None
    done = "Updated" if added.replaced else "Registered"
    click.echo(f"{done} at {registry.title}: {', '.join(added.entity_ids)}")
    click.echo(f"  file  {added.path}")
    click.echo("A running federation serves it within a second; `fedsim sp list` shows it.")


@sp.command("list")
@_idp_option(None)
@click.pass_obj
def list_(settings: Settings, idp: str | None) -> None:
    """List the SPs each IdP serves, and the sources it skips (and why).

    For each SP: entity ID, source, assertion consumer service, whether it
    can be logged out (an HTTP-Redirect SingleLogoutService)."""
    for n, name in enumerate([idp] if idp else IDPS):
        if n:
            click.echo()
        with _quiet():
            registry = sp_folder.open_registry(settings, name)
            state = registry.state
        _echo_state(registry.title, state)


def _echo_state(title: str, state: RegistryState) -> None:
    click.secho(f"{title} (--idp {state.idp}): {len(state.sps)} service provider(s)", bold=True)
    click.echo(f"  folder  {state.folder}")
    for url in state.urls:
        click.echo(f"  URL     {url}")
    for found in state.sps:
        click.echo(f"\n  {found.entity_id}" + (f"  « {found.name} »" if found.name else ""))
        click.echo(f"    source     {'built in: ' if found.builtin else ''}{found.source}")
        click.echo(f"    ACS        {', '.join(found.acs) or '-'}")
        click.echo(f"    logout     {'yes, ' + found.slo[0] if found.slo else 'no (no HTTP-Redirect SingleLogoutService)'}")
        if found.requested:
            click.echo(f"    requests   {', '.join(found.requested)}")
        if found.valid_until:
            click.echo(f"    valid until {found.valid_until:%Y-%m-%d %H:%M} UTC")
    if state.skipped:
        click.echo(f"\n  Skipped ({len(state.skipped)}):")
    for skipped in state.skipped:
        kept = "  (its last good version stays in use)" if skipped.still_in_use else ""
        click.echo(f"  ✗ {skipped.source}{kept}\n      {skipped.reason}")


@sp.command("remove")
@click.argument("entity_id")
@_idp_option("cerbere")
@click.pass_obj
def remove(settings: Settings, entity_id: str, idp: str) -> None:
    """Remove the SP ENTITY_ID (the metadata file that declares it).

    Deletes the file(s) of the IdP's metadata folder that declare it;
    ENTITY_ID may also be a file name of that folder (a skipped file, say).
    Built-in SPs and SPs of a *_SP_METADATA_URLS variable cannot be removed."""
    try:
        with _quiet():
            registry = sp_folder.open_registry(settings, idp)
            removed = sp_folder.remove(registry, entity_id)
    except sp_folder.Refused as exc:
        raise FedsimError(str(exc)) from None
    for path in removed.paths:
        click.echo(f"Removed {path}")
    if removed.entity_ids:
        click.echo(f"{registry.title} no longer serves {', '.join(removed.entity_ids)} "
                   "(a running federation within a second).")
