"""``fedsim up``, ``wait``, ``down``, ``certs``, ``personas``: the federation itself.

``up`` runs it in the foreground (Ctrl-C stops it) or, with ``--detach``,
in the background for CI; both write ``<instance_dir>/fedsim.pid`` so that
``down`` can stop either (see fedsim_harness.daemon)."""
from __future__ import annotations

import os
import signal
import threading

import click

from fedsim import personas as persona_data
from fedsim import trust
from fedsim.federation import Settings
from fedsim_harness import daemon


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``fedsim`` group."""
    for command in (up, wait, down, certs, personas):
        cli.add_command(command)


@click.command()
@click.option("--detach", is_flag=True,
              help="Run in the background and return at once (output in <instance_dir>/fedsim.log); "
                   "`fedsim wait` waits until it is up, `fedsim down` stops it.")
@click.option("--pid-file-written", is_flag=True, hidden=True)  # by the parent of a detached federation
@click.pass_obj
def up(settings: Settings, detach: bool, pid_file_written: bool) -> None:
    """Start the whole federation.

    The three apps, the SMTP sink and the web mailbox; Ctrl-C (or `fedsim
    down`) stops them. Refuses to start, in one line, when a port is taken
    or a federation already runs."""
    from fedsim_harness.serve import CannotListen

    if detach:
        try:
            info = daemon.start_detached(settings)
        except CannotListen as exc:
            raise daemon.FedsimError(str(exc)) from None
        click.echo(f"The federation is starting in the background (pid {info.pid}).\n")
        _echo_urls(settings)
        click.echo(f"\n  Log                      {info.log}")
        click.echo("\n`fedsim wait` returns once it is up; `fedsim down` stops it.")
        return
    _serve(settings, pid_file_written)


def _serve(settings: Settings, pid_file_written: bool) -> None:
    from fedsim_harness.serve import CannotListen, ServedFederation

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGHUP)}
    me = os.getpid()
    served = ServedFederation(settings)
    try:
        if not pid_file_written:
            daemon.claim(settings, me)
        try:
            served.start()
        except (CannotListen, trust.MetadataUnavailable) as exc:
            raise daemon.FedsimError(str(exc)) from None
        click.echo("The federation is running. Start here:\n")
        _echo_urls(settings)
        click.echo(f"\n  Keys and metadata        {settings.certs_dir}")
        click.echo(f"  Databases                {settings.instance_dir}")
        click.echo(f"  Listening on             {settings.bind} (FEDSIM_BIND)")
        click.echo("\nPersonas: `fedsim personas` · Stop: Ctrl-C or `fedsim down`")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        click.echo("\nStopping the federation…")
    finally:
        served.stop()
        daemon.release(settings, me)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Stopped.")


def _echo_urls(settings: Settings) -> None:
    click.secho(f"  Mon Espace (start here)  {settings.base_url('monespace')}/", bold=True)
    click.echo(f"  CSAM                     {settings.base_url('idp_csam')}/")
    click.echo(f"  Modigia                  {settings.base_url('modigia_sp')}/")
    click.echo(f"  Mailbox                  {settings.base_url('mailbox')}/   (SMTP 127.0.0.1:{settings.smtp_port})")


@click.command()
@click.option("--timeout", type=click.FloatRange(min=0), default=60, show_default=True,
              help="Seconds to wait before giving up.")
@click.pass_obj
def wait(settings: Settings, timeout: float) -> None:
    """Wait until the federation is up.

    Polls /health on every server (each app's database and the SMTP sink
    included). Exit 1, in one line naming what is not up and the log file,
    after --timeout or as soon as the federation's process has ended."""
    took = daemon.wait_until_up(settings, timeout)
    click.echo(f"The federation is up ({took:.1f} s): {settings.base_url('monespace')}/")


@click.command()
@click.option("--timeout", type=click.FloatRange(min=0), default=10, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
@click.pass_obj
def down(settings: Settings, timeout: float) -> None:
    """Stop the federation of `fedsim up`.

    With or without --detach: SIGTERM, then SIGKILL after --timeout.
    Nothing running is not an error: "No federation was running.", exit 0
    (safe in an always-run CI step)."""
    stopped = daemon.stop(settings, timeout)
    if stopped is None:
        if daemon.answers(settings):
            raise daemon.FedsimError(
                f"No federation started by `fedsim up` with the instance folder {settings.instance_dir}, but one "
                f"answers at {settings.base_url('mailbox')}: stop it where it was started.")
        click.echo("No federation was running.")
    elif stopped.killed:
        click.echo(f"The federation (pid {stopped.info.pid}) did not stop within {timeout:g} s: killed.")
    else:
        click.echo(f"The federation (pid {stopped.info.pid}) stopped.")


@click.command()
@click.option("--force", is_flag=True, help="Replace existing keys and certificates.")
@click.pass_obj
def certs(settings: Settings, force: bool) -> None:
    """Make keys, certificates and SAML metadata.

    For every entity, in FEDSIM_CERTS_DIR (certs/ by default): existing keys
    and self-signed certificates are kept unless --force; metadata is always
    rewritten."""
    table = trust.ensure(settings, force=force)
    for entity in table.values():
        click.echo(f"{entity.name:16} {entity.entity_id}")
    done = "new keys and certificates" if force else "keys and certificates"
    click.echo(f"\n{len(table)} entities: {done}, and metadata, in {settings.certs_dir}")
    if force and daemon.recorded(settings) is not None:
        click.echo("The running federation still uses the old keys: restart it (`fedsim down`, `fedsim up`).")


@click.command()
def personas() -> None:
    """List the test personas.

    From fedsim/data/personas.yaml: eID card and PIN, and whether they
    already have a Mon Espace account."""
    click.echo(f"{'ID':8} {'NAME':18} {'NRN':16} {'EID CARD':24} MON ESPACE")
    for p in persona_data.load():
        card = f"{p.card.number} PIN {p.card.pin}" if p.card else "no card"
        account = f"active ({p.monespace.cerbere_username})" if p.monespace else "none yet (first connection)"
        click.echo(f"{p.id:8} {p.full_name:18} {p.nrn_formatted:16} {card:24} {account}")
