"""``fedsim attack …``: hostile catalogues. ``fedsim attack sp TARGET``
plays the IdP an SP trusts (Cerbère or CSAM, with its real key) and posts
the SP a catalogue of hostile Responses (fedsim_harness.attack).
``fedsim attack idp TARGET`` plays an SP the IdP knows and sends it hostile
AuthnRequests (fedsim_harness.attack.idp_catalogue)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from fedsim.federation import Settings
from fedsim_harness.cli.exit import Exit


def register(cli: click.Group) -> None:
    cli.add_command(attack)


@click.group()
def attack() -> None:
    """Hostile catalogues: what an SP (or IdP) must refuse."""


@attack.command("sp")
@click.argument("target")
@click.option("--login", "login_url", help="The SP's URL that starts a login (SP-initiated, HTTP-Redirect).")
@click.option("--protected", "protected_url", help="A URL of the SP that only a logged-in browser sees (200).")
@click.option("--pattern", help="A regular expression that a logged-in page matches.")
@click.option("--idp", type=click.Choice(["cerbere", "csam"]), help="The IdP the SP trusts [cerbere; csam for "
                                                                  "Mon Espace].")
@click.option("--group", "groups", multiple=True, help="Only the cases of this group (repeatable).")
@click.option("--case", "case_ids", multiple=True, help="Only this case (repeatable); the baseline always runs.")
@click.option("--running", is_flag=True, help="Attack the servers of `fedsim up` (or any SP over HTTP) instead "
                                              "of our SPs in-process.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write a JSON report.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write an HTML report (each case's decoded messages).")
@click.option("--list", "list_only", is_flag=True, help="List the cases and exit.")
@click.pass_obj
def attack_sp(settings: Settings, target: str, login_url: str | None, protected_url: str | None,
              pattern: str | None, idp: str | None, groups: tuple[str, ...], case_ids: tuple[str, ...],
              running: bool, junit: Path | None, json_file: Path | None, html_file: Path | None,
              list_only: bool) -> None:
    """Play the IdP that TARGET trusts and post it hostile Responses.

    \b
    TARGET: modigia or monespace (our SPs: in-process unless --running),
    an entity ID registered at Cerbère or CSAM, or a metadata file or URL
    (then --login and --protected are needed, and the SP is reached over
    HTTP; the IdP's key comes from FEDSIM_CERTS_DIR).
    Exit 0 when the baseline logs in and every hostile case is refused.
    """
    from fedsim_harness.attack import catalogue, report

    cases = _chosen(catalogue.select, groups, case_ids)
    if list_only:
        _list(cases)
        return
    with tempfile.TemporaryDirectory(prefix="fedsim-attack-") as scratch:
        results, label = _run(settings, target, cases, Path(scratch), login_url=login_url,
                              protected_url=protected_url, pattern=pattern, idp=idp, running=running)
    click.echo(report.table(results))
    click.echo(report.summary(results))
    if junit:
        _write(junit, report.junit(results, label))
    if json_file:
        _write(json_file, report.to_json(results, label))
    if html_file:
        _write(html_file, report.html(results, label))
    sys.exit(Exit.OK if report.passed(results) else Exit.FAILED)


def _chosen(select, groups: tuple[str, ...], case_ids: tuple[str, ...]) -> tuple:
    """The cases ``select`` gives for the options; an unknown name is a usage error."""
    try:
        return select(groups, case_ids)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _list(cases: tuple) -> None:
    """``--list``: one line per case, columns as wide as the longest id and group."""
    id_width, group_width = max(len(c.id) for c in cases), max(len(c.group) for c in cases)
    for case in cases:
        click.echo(f"{case.id:{id_width}} {case.group:{group_width}} {case.title} [{case.reference}]")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _run(settings: Settings, name: str, cases, root: Path, *, login_url, protected_url, pattern, idp,
         running: bool):
    from fedsim_harness.attack import driver, sp, targets

    progress = (lambda r: click.echo(f"  {r.case.id} … {r.verdict}", err=True)) if sys.stderr.isatty() else None
    builtin = targets.builtin(settings, name)
    if builtin is not None and not running and not login_url:
        import logging
        import warnings

        from fedsim_harness.stack import start_in_process

        logging.disable(logging.WARNING)  # the SPs log every refusal: the table says it better
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pysaml2's deprecation warnings say nothing to the user
                federation = start_in_process(root)
            try:
                setup = sp.in_process(federation, name)
                return driver.run(setup, cases, progress), setup.target.label
            finally:
                federation.close()
        finally:
            logging.disable(logging.NOTSET)
    try:
        target = _target(settings, name, builtin, login_url, protected_url, pattern, idp)
        setup = sp.over_http(settings, target)
    except targets.TargetError as exc:
        raise click.UsageError(str(exc)) from None
    return driver.run(setup, cases, progress), target.label


def _target(settings: Settings, name: str, builtin, login_url, protected_url, pattern, idp):
    import dataclasses

    from fedsim_harness.attack import targets

    if builtin is not None:
        return dataclasses.replace(builtin, login_url=login_url or builtin.login_url,
                                   protected_url=protected_url or builtin.protected_url,
                                   pattern=pattern or builtin.pattern, idp=idp or builtin.idp)
    return targets.resolve(settings, name, login_url=login_url, protected_url=protected_url, pattern=pattern,
                           idp=idp)


@attack.command("idp")
@click.argument("target")
@click.option("--sp-entity-id", help="Entity ID of an SP registered at the IdP (TARGET given by metadata).")
@click.option("--sp-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="That SP's private signing key (PEM).")
@click.option("--sp-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="That SP's certificate (PEM; for the HMAC key-confusion case).")
@click.option("--sp-acs", "sp_acs", multiple=True, help="That SP's ACS URL as its metadata lists it (repeatable).")
@click.option("--idp-cookie", "idp_cookies", multiple=True, metavar="NAME=VALUE",
              help="A cookie of an open session at the IdP (repeatable): then a vulnerable IdP answers at once.")
@click.option("--group", "groups", multiple=True, help="Only the cases of this group (repeatable).")
@click.option("--case", "case_ids", multiple=True, help="Only this case (repeatable); the baseline always runs.")
@click.option("--running", is_flag=True, help="Attack the servers of `fedsim up` instead of our IdPs in-process.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write a JSON report.")
@click.option("--list", "list_only", is_flag=True, help="List the cases and exit.")
@click.pass_obj
def attack_idp(settings: Settings, target: str, sp_entity_id: str | None, sp_key: Path | None,
               sp_cert: Path | None, sp_acs: tuple[str, ...], idp_cookies: tuple[str, ...],
               groups: tuple[str, ...], case_ids: tuple[str, ...], running: bool, junit: Path | None,
               json_file: Path | None, list_only: bool) -> None:
    """Play an SP that TARGET knows and send it hostile AuthnRequests.

    \b
    TARGET: csam or cerbere (our IdPs, attacked as Mon Espace's SP and as
    Modigia with their real keys, a persona logged in first; in-process
    unless --running), or an IdP's metadata file or URL (then --sp-entity-id,
    --sp-key and --sp-acs of an SP registered there are needed).
    Exit 0 when the baseline gets an assertion and every hostile case is
    refused with no assertion issued.
    """
    from fedsim_harness.attack import idp_catalogue, idp_report

    cases = _chosen(idp_catalogue.select, groups, case_ids)
    if list_only:
        _list(cases)
        return
    with tempfile.TemporaryDirectory(prefix="fedsim-attack-idp-") as scratch:
        results, label = _run_idp(settings, target, cases, Path(scratch), running=running,
                                  sp_entity_id=sp_entity_id, sp_key=sp_key, sp_cert=sp_cert, sp_acs=sp_acs,
                                  idp_cookies=idp_cookies)
    click.echo(idp_report.table(results))
    click.echo(idp_report.summary(results))
    if junit:
        _write(junit, idp_report.junit(results, label))
    if json_file:
        _write(json_file, idp_report.to_json(results, label))
    sys.exit(Exit.OK if idp_report.passed(results) else Exit.FAILED)


def _run_idp(settings: Settings, name: str, cases, root: Path, *, running: bool, sp_entity_id, sp_key, sp_cert,
             sp_acs, idp_cookies):
    from fedsim_harness.attack import idp_driver, idp_targets
    from fedsim_harness.scenario.browser import HttpTransport, WsgiTransport

    progress = (lambda r: click.echo(f"  {r.case.id} … {r.verdict}", err=True)) if sys.stderr.isatty() else None
    try:
        if name in idp_targets.OURS and not running:
            import logging
            import warnings

            from fedsim_harness.stack import start_in_process

            logging.disable(logging.WARNING)  # the IdPs log every refusal: the table says it better
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pysaml2's deprecation warnings say nothing to the user
                    federation = start_in_process(root)
                try:
                    target = idp_targets.ours(federation.settings, name, federation.urls)
                    table = federation.wsgi_by_netloc()
                    runner = idp_driver.Runner(target, lambda: WsgiTransport(table))
                    return runner.run(cases, progress), target.label
                finally:
                    federation.close()
            finally:
                logging.disable(logging.NOTSET)
        if name in idp_targets.OURS:
            target = idp_targets.ours(settings, name, settings_urls(settings))
        else:
            if not (sp_entity_id and sp_key and sp_acs):
                raise click.UsageError(f"{name} is not one of our IdPs (csam, cerbere): give --sp-entity-id, "
                                       "--sp-key and --sp-acs of an SP registered there")
            cookies = dict(c.split("=", 1) for c in idp_cookies if "=" in c)
            target = idp_targets.from_metadata(idp_targets.read_metadata(name), sp_entity_id=sp_entity_id,
                                               sp_key_file=sp_key, sp_cert_file=sp_cert, acs=tuple(sp_acs),
                                               cookies=cookies)
    except idp_targets.IdpTargetError as exc:
        raise click.UsageError(str(exc)) from None
    return idp_driver.Runner(target, HttpTransport).run(cases, progress), target.label


def settings_urls(settings: Settings) -> dict[str, str]:
    """The base URLs of the running federation (the mailbox's too)."""
    from fedsim_harness.serve import APP_NAMES

    return {name: settings.base_url(name) for name in (*APP_NAMES, "mailbox")}
