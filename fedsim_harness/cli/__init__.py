"""The ``fedsim`` command: run the federation, manage its keys, run
scenarios, reset it. One module per group of commands (``federation``,
``scenarios``, ``admin``), each adding its commands to the group with
``register``."""
from __future__ import annotations

import warnings

import click

from fedsim.federation import Settings
from fedsim.personas import PersonaFileError, overlay_file
from fedsim.personas import load as load_personas
from fedsim_harness.cli import (
    admin,
    attack,
    attributes,
    db,
    federation,
    guide,
    oidc,
    scenarios,
    sps,
)
from fedsim_harness.cli.exit import Exit

# pysaml2 7.5.5 imports ciphers from their old cryptography location; that
# is pysaml2's to fix and says nothing useful to a user of this command.
warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run the simulated SAML federation of Mon Espace, CSAM and Modigia on
    this machine, and script login journeys through it.

    \b
    Typical use:
      fedsim up                 the whole federation, until Ctrl-C
      fedsim personas           who you can log in as
      fedsim scenario run       scripted journeys, in-process
    In CI (docs/ci.md):
      fedsim up --detach        in the background, then
      fedsim wait               until every server answers healthy,
      ...                       your tests against it,
      fedsim down               and stop it (exit 0 if nothing runs)

    Settings come from the environment (see README.md): FEDSIM_HOST,
    FEDSIM_BIND, FEDSIM_*_PORT, FEDSIM_INSTANCE_DIR, FEDSIM_CERTS_DIR.
    """
    ctx.obj = Settings.from_env()
    if overlay_file() is not None:
        load_personas()  # a wrong FEDSIM_PERSONAS file stops every command at once, in one line (main)


for module in (federation, scenarios, admin, sps, attack, db, guide, attributes, oidc):
    module.register(cli)


def main() -> int:
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return Exit.USAGE if isinstance(exc, click.UsageError) else Exit.FAILED
    except click.exceptions.Abort:
        return Exit.FAILED
    except PersonaFileError as wrong:  # FEDSIM_PERSONAS names a wrong file: say what is wrong, in one line
        click.echo(f"Error: {wrong}", err=True)
        return Exit.FAILED
    except SystemExit as done:
        return int(done.code or 0)
    return Exit.OK
