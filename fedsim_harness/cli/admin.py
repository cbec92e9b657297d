"""``fedsim reset``: the running federation back to its seeded state."""
from __future__ import annotations

import sys

import click

from fedsim.federation import Settings
from fedsim_harness.cli.exit import Exit


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``fedsim`` group."""
    cli.add_command(reset)


@click.command()
@click.pass_obj
def reset(settings: Settings) -> None:
    """Put the federation of `fedsim up` back to the state it started in:
    personas, cards, PINs, accounts, mail, sessions (keys and registered SPs stay)."""
    from fedsim_harness.admin import ResetUnavailable, request_reset

    url = settings.base_url("mailbox")
    try:
        ms = request_reset(url)
    except ResetUnavailable as exc:
        click.echo(str(exc), err=True)
        sys.exit(Exit.FAILED)
    click.echo(f"Federation at {url} reset to the state it started in ({ms:.0f} ms).")
