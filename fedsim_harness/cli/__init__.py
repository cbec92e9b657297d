"""The ``fedsim`` command: run the federation, manage its keys, run
scenarios. One module per group of commands (``federation``, ``scenarios``),
each adding its commands to the group with ``register``."""
from __future__ import annotations

import warnings

import click

from fedsim.federation import Settings
from fedsim_harness.cli import federation, scenarios
from fedsim_harness.cli.exit import Exit

# pysaml2 7.5.5 imports ciphers from their old cryptography location; that
# is pysaml2's to fix and says nothing useful to a user of this command.
warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Simulateur de la fédération Mon Espace / CSAM / Modigia."""
    ctx.obj = Settings.from_env()


for module in (federation, scenarios):
    module.register(cli)


def main() -> int:
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return Exit.USAGE if isinstance(exc, click.UsageError) else Exit.FAILED
    except click.exceptions.Abort:
        return Exit.FAILED
    except SystemExit as done:
        return int(done.code or 0)
    return Exit.OK
