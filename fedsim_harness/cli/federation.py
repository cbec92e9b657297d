"""``fedsim up``, ``certs``, ``personas``: the federation itself."""
from __future__ import annotations

import signal
import threading

import click

from fedsim import personas as persona_data
from fedsim import trust
from fedsim.federation import Settings


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``fedsim`` group."""
    for command in (up, certs, personas):
        cli.add_command(command)


@click.command()
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


@click.command()
@click.option("--force", is_flag=True, help="Replace existing keys and certificates.")
@click.pass_obj
def certs(settings: Settings, force: bool) -> None:
    """Generate keys, self-signed certificates and SAML metadata into certs/."""
    table = trust.ensure(settings, force=force)
    for entity in table.values():
        click.echo(f"{entity.name:14} {entity.entity_id}")
    click.echo(f"→ {settings.certs_dir}")


@click.command()
def personas() -> None:
    """List the test personas."""
    for p in persona_data.load():
        card = f"carte {p.card.number} PIN {p.card.pin}" if p.card else "pas de carte"
        account = f"compte actif ({p.monespace.cerbere_username})" if p.monespace else "pas encore de compte"
        click.echo(f"{p.id:8} {p.full_name:18} {p.nrn_formatted}  {card:30} {account}")


