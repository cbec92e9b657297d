"""``fedsim scenario …``: scripted journeys."""
from __future__ import annotations

import sys
from pathlib import Path
from tempfile import TemporaryDirectory

import click

from fedsim.federation import PROJECT_ROOT, Settings
from fedsim_harness.cli.exit import Exit
from fedsim_harness.scenario import model, report
from fedsim_harness.scenario.browser import Browser, HttpTransport, WsgiTransport
from fedsim_harness.scenario.runner import Runner

SCENARIOS = PROJECT_ROOT / "scenarios"


def register(cli: click.Group) -> None:
    cli.add_command(scenario)


@click.group()
def scenario() -> None:
    """Scripted journeys from scenarios/."""


@scenario.command("list")
def scenario_list() -> None:
    for sc in model.load_all(SCENARIOS):
        click.echo(f"{sc.name:24} {' '.join(sc.guide_steps)}  {sc.title}")


@scenario.command("run")
@click.argument("names", nargs=-1)
@click.option("--running", is_flag=True, help="Drive the servers started by `fedsim up` instead of in-process apps.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report.")
@click.pass_obj
def scenario_run(settings: Settings, names: tuple[str, ...], running: bool, junit: Path | None) -> None:
    """Run scenarios (all of them without NAMES); exit 1 when one fails."""
    try:
        chosen = [model.find(SCENARIOS, n) for n in names] if names else model.load_all(SCENARIOS)
    except model.ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    results = []
    if running:
        for sc in chosen:
            runner = Runner(Browser(HttpTransport()), {n: settings.base_url(n) for n in
                                                        ("monespace", "idp_csam", "modigia_sp", "mailbox")})
            results.append(runner.run(sc))
    else:
        from fedsim_harness.stack import start_in_process
        for sc in chosen:
            with TemporaryDirectory(prefix="fedsim-") as tmp:
                fed = start_in_process(Path(tmp))
                try:
                    results.append(Runner(Browser(WsgiTransport(fed.wsgi_by_netloc())), fed.urls).run(sc))
                finally:
                    fed.close()
    click.echo(report.text(results))
    if junit:
        report.write_junit(results, junit)
    sys.exit(Exit.OK if all(r.ok for r in results) else Exit.FAILED)


