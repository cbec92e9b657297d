"""``fedsim guide build``: the illustrated connection guide (French), from a
run in Chromium — each guide step with its explanation and the screen the
simulator shows for it, as ``guide.html`` (screenshots embedded) and
``guide.pdf`` (printed by Chromium). See fedsim_harness.guide."""
from __future__ import annotations

from pathlib import Path

import click

from fedsim_harness.cli.exit import Exit

__all__ = ["register"]


@click.group("guide")
def guide() -> None:
    """The illustrated connection guide, built from a run in Chromium."""


@guide.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/guide"),
              show_default=True, help="Where guide.html and guide.pdf are written.")
@click.option("--steps", default="", metavar="G01,G02…",
              help="Only these guide steps (comma-separated ids or ranges like G01-G05); all 26 by default.")
def build(out_dir: Path, steps: str) -> None:
    """Serve the federation on free ports (5000–5999) in a temporary folder,
    run the scenarios that show the guide's steps in Chromium, and write
    guide.html and guide.pdf in French, in the connection guide's order.

    Chromium: FEDSIM_CHROMIUM (default /usr/bin/chromium)."""
    from fedsim_harness.guide import GuideError, build_guide, parse_ids
    from fedsim_harness.scenario.chromium import ChromiumUnavailable

    try:
        ids = parse_ids(steps) if steps else None
    except GuideError as exc:
        raise click.BadParameter(str(exc), param_hint="--steps") from None
    try:
        built = build_guide(out_dir, ids, on_shot=lambda guide_id: click.echo(f"  {guide_id} ✓", err=True))
    except (GuideError, ChromiumUnavailable) as exc:
        click.echo(f"fedsim guide build: {exc}", err=True)
        raise SystemExit(Exit.FAILED) from None
    click.echo(f"{len(built.steps)} guide steps in {built.seconds:.1f} s:\n  {built.html}\n  {built.pdf}")


def register(cli: click.Group) -> None:
    cli.add_command(guide)
