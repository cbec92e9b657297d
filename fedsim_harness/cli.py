"""The ``fedsim`` command: run the federation, manage its keys, run scenarios."""
from __future__ import annotations

import enum
import signal
import sys
import threading
import warnings
from pathlib import Path
from tempfile import TemporaryDirectory

import click

from fedsim import personas as persona_data
from fedsim import trust
from fedsim.federation import PROJECT_ROOT, Settings
from fedsim_harness.scenario import model, report
from fedsim_harness.scenario.browser import Browser, HttpTransport, WsgiTransport
from fedsim_harness.scenario.runner import Runner

SCENARIOS = PROJECT_ROOT / "scenarios"

# pysaml2 7.5.5 imports ciphers from their old cryptography location; that
# is pysaml2's to fix and says nothing useful to a user of this command.
warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Simulateur de la fédération Mon Espace / CSAM / Modigia."""
    ctx.obj = Settings.from_env()


@cli.command()
@click.pass_obj
def up(settings: Settings) -> None:
    """Start the whole federation (Ctrl-C stops it)."""
    from fedsim_harness.serve import PortTaken, ServedFederation

    served = ServedFederation(settings)
    try:
        served.start()
    except (PortTaken, trust.MetadataUnavailable) as taken:
        served.stop()
        raise click.ClickException(str(taken)) from None
    urls = served.urls
    click.echo("La fédération tourne. Commencez ici :\n")
    click.secho(f"  Mon Espace (accueil)   {urls['monespace']}/", bold=True)
    click.echo(f"  CSAM                   {urls['idp_csam']}/")
    click.echo(f"  Modigia                {urls['modigia_sp']}/")
    click.echo(f"  Boîte mail             {urls['mailbox']}/   (SMTP 127.0.0.1:{settings.smtp_port})")
    click.echo(f"\n  Clés et métadonnées    {settings.certs_dir}")
    click.echo(f"  Bases de données       {settings.instance_dir}")
    click.echo("\nPersonas : fedsim personas · Arrêt : Ctrl-C")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("\nArrêt de la fédération…")
        served.stop()
        click.echo("Arrêtée.")


@cli.command()
@click.option("--force", is_flag=True, help="Replace existing keys and certificates.")
@click.pass_obj
def certs(settings: Settings, force: bool) -> None:
    """Generate keys, self-signed certificates and SAML metadata into certs/."""
    table = trust.ensure(settings, force=force)
    for entity in table.values():
        click.echo(f"{entity.name:14} {entity.entity_id}")
    click.echo(f"→ {settings.certs_dir}")


@cli.command()
def personas() -> None:
    """List the test personas."""
    for p in persona_data.load():
        card = f"carte {p.card.number} PIN {p.card.pin}" if p.card else "pas de carte"
        account = f"compte actif ({p.monespace.cerbere_username})" if p.monespace else "pas encore de compte"
        click.echo(f"{p.id:8} {p.full_name:18} {p.nrn_formatted}  {card:30} {account}")


@cli.group()
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
