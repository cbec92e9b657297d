"""The admin page of the hostile-IdP catalogue, on the mailbox app (the
harness's own app, port 5025): ``GET /admin/attack`` shows a form — the
target (one of our SPs, or any SP by entity ID or metadata URL with its
login URL, protected URL and pattern), the groups of cases — and
``POST /admin/attack`` runs the catalogue against it (as ``fedsim attack
sp``, fedsim_harness.attack) and shows every case: verdict, explanation,
reference, and the AuthnRequest and forged Response decoded.

The run goes through a browser per case (``transport``): over HTTP by
default — under ``fedsim up`` the SPs are served by this very process, on
their own ports and threads — or in-process (a ``WsgiTransport`` over the
apps). One run at a time, synchronous: a few seconds for our SPs.

Local only, with the guard of every admin page (fedsim_harness.admin_guard):
a client that is not on this machine, a Host that is not a name of this
machine, or a POST whose Origin (or Referer) is another site's, is refused."""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, render_template, request

from fedsim.federation import Settings
from fedsim.mailbox.app import trust_hosts
from fedsim_harness import admin_guard
from fedsim_harness.attack import catalogue, driver, report, sp, targets
from fedsim_harness.scenario.browser import HttpTransport, Transport

bp = Blueprint("fedsim_admin_attack", __name__, url_prefix="/admin/attack", template_folder="templates")

PAGE = "fedsim.admin_attack"  # mailbox.extensions key: an AttackPage
OURS = ("modigia", "monespace")
OTHER = "other"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00]{1,1024}\Z")


@dataclass
class AttackPage:
    """What the page needs: the federation's settings (the IdPs' keys, the
    SP registries, our SPs' URLs), the names of this machine, and a factory
    of fresh browsers."""
    settings: Settings
    hosts: frozenset[str]
    transport: Callable[[], Transport] = HttpTransport
    lock: threading.Lock = field(default_factory=threading.Lock)


def install(mailbox: Flask, settings: Settings, transport: Callable[[], Transport] | None = None) -> None:
    """Serve ``/admin/attack`` from ``mailbox`` for the federation of
    ``settings``; ``transport`` makes each case's browser [HTTP]."""
    page = AttackPage(settings, frozenset({"localhost", settings.host}), transport or HttpTransport)
    mailbox.extensions[PAGE] = page
    trust_hosts(mailbox, sorted(page.hosts))  # the mailbox's own Host check, before this blueprint's
    mailbox.register_blueprint(bp)


class Refused(ValueError):
    """A form that cannot be run; the message says why."""


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"The {what} must be an http(s) URL.")
    return value


def choose_target(settings: Settings, form: dict[str, str]) -> targets.Target:
    """The target a form names: one of our SPs, or an entity ID (registered
    at Cerbère or CSAM), a metadata URL or file, with its URLs."""
    which = form.get("target") or "modigia"
    if which in OURS:
        target = targets.builtin(settings, which)
        if target is None:  # pragma: no cover - OURS are built in
            raise Refused(f"{which} is not one of the federation's SPs.")
        return target
    if which != OTHER:
        raise Refused("Choose one of our SPs, or another SP.")
    name = (form.get("entity_id") or "").strip()
    login_url = _http_url((form.get("login_url") or "").strip(), "login URL")
    protected_url = _http_url((form.get("protected_url") or "").strip(), "protected URL")
    pattern = (form.get("pattern") or "").strip() or None
    idp = form.get("idp") or None
    if not _URI.match(name):  # an entity ID is a URI; a local path is not read from a form
        raise Refused("Give the SP's entity ID (a URI) or the http(s) URL of its metadata.")
    if idp not in (None, *targets.IDPS):
        raise Refused("Choose the IdP the SP trusts: Cerbère or CSAM.")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise Refused(f"The pattern is not a regular expression: {exc}.") from None
    try:
        return targets.resolve(settings, name, login_url=login_url, protected_url=protected_url,
                               pattern=pattern, idp=idp)
    except targets.TargetError as exc:
        raise Refused(str(exc)) from None
    except (OSError, ValueError):  # a URI that is no file name either (too long, NUL)
        raise Refused("This entity ID cannot be used (too long, or characters no entity ID has).") from None


def choose_cases(groups: list[str], ids: str) -> tuple[catalogue.Case, ...]:
    try:
        return catalogue.select(groups, ids.replace(",", " ").split())
    except ValueError as exc:
        raise Refused(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


def run(page: AttackPage, target: targets.Target, cases: tuple[catalogue.Case, ...]) -> dict:
    """Run ``cases`` (the baseline first) against ``target``; the report
    section (fedsim_harness.attack.report.section). When the baseline cannot
    even be run (an SP that does not answer, a login URL that leads to no
    AuthnRequest) the other cases are not tried: they would fail the same way."""
    try:
        setup = sp.setup(page.settings, target, page.transport)
    except targets.TargetError as exc:
        raise Refused(str(exc)) from None
    results = driver.run(setup, cases[:1])
    if results[0].verdict != driver.HARNESS:
        results += driver.run(setup, cases[1:])
    section = report.section(results, target.label)
    if len(results) < len(cases):
        section["summary"] += f"; the other {len(cases) - len(results)} cases were not run"
    return section


def _page() -> AttackPage:
    return current_app.extensions[PAGE]


@bp.before_request
def _local_only():  # noqa: ANN202 - None or a refusal page (fedsim_harness.admin_guard)
    reason = admin_guard.refusal(_page().hosts)
    return (render_template("admin_attack/refused.html", message=reason), 403) if reason else None


def _render(form: dict, groups: list[str], *, result: dict | None = None, error: str = "",
            status: int = 200):  # noqa: ANN202 - a page
    return render_template("admin_attack/index.html", form=form, chosen_groups=groups, groups=catalogue.GROUPS,
                           sizes={g: sum(c.group == g for c in catalogue.CATALOGUE) for g in catalogue.GROUPS},
                           total=len(catalogue.CATALOGUE), ours=OURS, idps=targets.IDPS, result=result,
                           error=error, verdict_class=report.verdict_class), status


@bp.get("")
def index():
    return _render({"target": "modigia"}, [])


@bp.post("")
def attack():
    form = {key: request.form.get(key, "")[:2000] for key in
            ("target", "entity_id", "login_url", "protected_url", "pattern", "idp", "cases")}
    groups = [g for g in request.form.getlist("group") if g][:len(catalogue.GROUPS)]
    page = _page()
    try:
        target = choose_target(page.settings, form)
        cases = choose_cases(groups, form["cases"])
    except Refused as exc:
        return _render(form, groups, error=str(exc), status=400)
    if not page.lock.acquire(blocking=False):
        return _render(form, groups, error="A run is already under way: wait for it to end.", status=409)
    try:
        result = run(page, target, cases)
    except Refused as exc:
        return _render(form, groups, error=str(exc), status=400)
    except Exception as exc:  # noqa: BLE001 - whatever failed, the page says it in one line
        current_app.logger.exception("the attack run failed")
        return _render(form, groups, error=f"The run failed: {type(exc).__name__}: {exc}", status=500)
    finally:
        page.lock.release()
    return _render(form, groups, result=result)
