"""``fedsim attributes``: what CSAM and Cerbère send, from real logins, as
the Markdown tables README.md holds (``--check README.md`` says whether it
still holds exactly them; ``--write README.md`` replaces them)."""
from __future__ import annotations

from pathlib import Path

import click

from fedsim_harness.cli.exit import Exit


def register(cli: click.Group) -> None:
    cli.add_command(attributes)


@click.command()
@click.option("--check", "check", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Exit 1 when this README's tables differ from what the federation sends.")
@click.option("--write", "write", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Replace this README's tables with what the federation sends.")
def attributes(check: Path | None, write: Path | None) -> None:
    """Log in with every CSAM key and in every Mon Espace context (in-process,
    about 20 s) and print the attributes, NameIDs and levels CSAM and
    Cerbère send, as Markdown."""
    from fedsim_harness import attribute_table

    table = attribute_table.markdown(attribute_table.observe())
    for target in filter(None, (check, write)):
        readme = target.read_text(encoding="utf-8")
        held = attribute_table.readme_block(readme)
        if not held:
            raise click.ClickException(f"{target} has no block between « {attribute_table.START} » and "
                                       f"« {attribute_table.END} »")
        if target == write:
            target.write_text(readme.replace(held, table), encoding="utf-8")
            click.echo(f"{target}: tables written")
        elif held != table:
            click.echo(f"{target}: its tables differ from what the federation sends; run "
                       f"`fedsim attributes --write {target}`", err=True)
            raise SystemExit(Exit.FAILED)
        else:
            click.echo(f"{target}: its tables are what the federation sends")
    if not check and not write:
        click.echo(table)
