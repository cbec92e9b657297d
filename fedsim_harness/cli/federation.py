"""``fedsim up``, ``wait``, ``down``, ``certs``, ``personas``: the federation itself.

``up`` runs it in the foreground (Ctrl-C stops it) or, with ``--detach``,
in the background for CI; both write ``<instance_dir>/fedsim.pid`` so that
``down`` can stop either (see fedsim_harness.daemon)."""
from __future__ import annotations

import os
import signal
import threading
from typing import TYPE_CHECKING

import click

from fedsim import personas as persona_data
from fedsim import trust
from fedsim.federation import Settings
from fedsim_harness import daemon

if TYPE_CHECKING:
    from fedsim_harness.wsgi_server import ServerOptions


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``fedsim`` group."""
    for command in (up, wait, down, certs, personas):
        cli.add_command(command)


@click.command()
@click.option("--detach", is_flag=True,
              help="Run in the background and return at once (output in <instance_dir>/fedsim.log); "
                   "`fedsim wait` waits until it is up, `fedsim down` stops it.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="gunicorn worker processes per app [default: FEDSIM_WORKERS, else 2].")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads per worker [default: FEDSIM_THREADS, else 8].")
@click.option("--access-log", is_flag=True, help="Log every HTTP request (off by default; FEDSIM_ACCESS_LOG=1).")
@click.option("--werkzeug", is_flag=True,
              help="Serve everything from one process on Werkzeug's development server instead of gunicorn "
                   "(FEDSIM_SERVER=werkzeug).")
@click.option("--quick-login", is_flag=True,
              help="Developers only: CSAM offers « Connexion rapide », a shortcut that logs any persona in at a "
                   "chosen level without a key (FEDSIM_QUICK_LOGIN=1; CSAM alone: IDP_CSAM_QUICK_LOGIN=1). "
                   "Refused in trainer mode.")
@click.option("--trainer", is_flag=True,
              help="Trainer mode, for demonstrations (FEDSIM_TRAINER=1): no quick login, whatever the "
                   "configuration says.")
@click.option("--pid-file-written", is_flag=True, hidden=True)  # by the parent of a detached federation
@click.pass_obj
def up(settings: Settings, detach: bool, workers: int | None, threads: int | None, access_log: bool,
       werkzeug: bool, quick_login: bool, trainer: bool, pid_file_written: bool) -> None:
    """Start the whole federation.

    The three apps, the SMTP sink and the web mailbox; Ctrl-C (or `fedsim
    down`) stops them. Each app runs on gunicorn, --workers processes of
    --threads threads. Refuses to start, in one line, when a port is taken
    or a federation already runs."""
    from fedsim_harness.serve import CannotListen
    from fedsim_harness.wsgi_server import ServerOptions

    try:
        options = ServerOptions.production(workers, threads, access_log, werkzeug,
                                           quick_login=quick_login, trainer=trainer)
    except ValueError as exc:
        raise daemon.FedsimError(str(exc)) from None
    if detach:
        saved = {name: os.environ.get(name) for name in options.environ()}
        os.environ.update(options.environ())  # what the detached `fedsim up` serves with
        try:
            info = daemon.start_detached(settings)
        except CannotListen as exc:
            raise daemon.FedsimError(str(exc)) from None
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        click.echo(f"The federation is starting in the background (pid {info.pid}).\n")
        _echo_urls(settings)
        click.echo(f"\n  Log                      {info.log}")
        click.echo("\n`fedsim wait` returns once it is up; `fedsim down` stops it.")
        return
    _serve(settings, options, pid_file_written)


def _serve(settings: Settings, options: ServerOptions, pid_file_written: bool) -> None:
    from fedsim_harness.serve import CannotListen, ServedFederation

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGHUP)}
    me = os.getpid()
    served = ServedFederation(settings, options=options)
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
        click.echo(f"  Served by                {_served_by(options)}")
        if options.quick_login:
            click.secho("  Quick login              ON: CSAM offers « Connexion rapide » (developers only; "
                        "--quick-login)", bold=True)
        if options.trainer:
            click.echo("  Trainer mode             on: no quick login (--trainer)")
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


def _served_by(options: ServerOptions) -> str:
    log = "every request logged" if options.access_log else "no request log (--access-log)"
    if options.server == "werkzeug":
        return f"Werkzeug, one process, a thread per connection; {log}"
    return (f"gunicorn, per app {options.workers} worker(s) × {options.threads} thread(s) "
            f"(--workers/--threads); {log}")


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
@click.option("--check", "check_file", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Validate FILE as a FEDSIM_PERSONAS file (on top of the shipped personas) and say OK or "
                   "what is wrong.")
@click.option("--markdown", is_flag=True, help="Print README's table of personas (Markdown).")
def personas(check_file: str | None, markdown: bool) -> None:
    """List the test personas, or check a personas file.

    From fedsim/data/personas.yaml, plus FEDSIM_PERSONAS=/path/file.yaml when
    set (adds personas, or replaces the one with the same id): eID card and
    PIN, other keys, and whether they already have a Mon Espace account."""
    try:
        people = persona_data.check(check_file) if check_file else persona_data.load()
    except persona_data.PersonaFileError as wrong:
        raise click.ClickException(str(wrong)) from None
    if check_file:
        click.echo(f"OK: {check_file}: {len(people)} personas with the shipped ones")
        return
    if markdown:
        from fedsim_harness.persona_table import markdown as table

        click.echo(table(people))
        return
    extra = persona_data.overlay_file()
    if extra:
        click.echo(f"(with {extra}, from {persona_data.ENV_VARIABLE})")
    click.echo(f"{'ID':8} {'NAME':18} {'NRN/BIS':16} {'EID CARD':24} {'KEYS':28} MON ESPACE")
    for p in people:
        card = f"{p.card.number} PIN {p.card.pin}" if p.card else "no card"
        keys = [name for name, has in (("itsme", p.itsme), ("csam", p.csam), ("eidas", p.eidas),
                                       ("bel-agent", p.bel_agent)) if has]
        keys += [f"{c.state} card" for c in p.cards if c.state != "valid"]
        account = f"active ({p.monespace.cerbere_username})" if p.monespace else "none yet (first connection)"
        click.echo(f"{p.id:8} {p.full_name:18} {p.nrn_formatted:16} {card:24} {', '.join(keys) or '-':28} {account}")
