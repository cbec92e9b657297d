"""The admin page of the service providers of Cerbère and CSAM, on the
mailbox app (the harness's own app, port 5025): ``GET /admin/sps`` lists
them with the metadata sources each IdP skips and why; a form uploads a
metadata file, another removes an SP (both POST). Same folders and rules as
``fedsim sp`` (fedsim_harness.sp_folder); the registries are the running
IdPs' own, so the page shows what they serve now.

Local only: any request from a client that is not on this machine (a
loopback address) is refused (403), and so is a POST whose Origin (or,
without one, Referer) is not this page's own origin, or a request for a
host name that is not a name of this machine (DNS rebinding: the mailbox
app refuses it first, 400, for every page it serves — see
fedsim.mailbox.app — and this blueprint checks again, 403)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Blueprint, Flask, current_app, render_template, request

from fedsim.mailbox.app import trust_hosts
from fedsim.saml.registry import EXTENSION, SpRegistry
from fedsim_harness import admin_guard, sp_folder

bp = Blueprint("fedsim_admin_sps", __name__, url_prefix="/admin/sps", template_folder="templates")

REGISTRIES = "fedsim.admin_sps"  # mailbox.extensions key: {"cerbere": SpRegistry, "csam": SpRegistry}


def install(mailbox: Flask, apps: Mapping[str, Flask]) -> None:
    """Serve ``/admin/sps`` from ``mailbox`` for the SP registries of ``apps``
    (each IdP app's ``app.extensions[fedsim.saml.registry.EXTENSION]``)."""
    registries = {}
    hosts = {"localhost"}
    for app in apps.values():
        registry = app.extensions.get(EXTENSION)
        if registry is not None:
            registries[registry.idp] = registry
        settings = app.config.get("FEDSIM_SETTINGS")
        if settings is not None:
            hosts.add(settings.host)
    mailbox.extensions[REGISTRIES] = {"registries": registries, "hosts": hosts}
    trust_hosts(mailbox, sorted(hosts))  # the mailbox's own Host check, before this blueprint's
    mailbox.register_blueprint(bp)


def _registries() -> dict[str, SpRegistry]:
    return current_app.extensions[REGISTRIES]["registries"]


@bp.before_request
def _local_only():  # noqa: ANN202 - None or a refusal page (fedsim_harness.admin_guard)
    reason = admin_guard.refusal(current_app.extensions[REGISTRIES]["hosts"])
    return _refuse(reason) if reason else None


def _refuse(message: str):  # noqa: ANN202 - a page
    return render_template("admin_sps/refused.html", message=message), 403


def _page(message: str = "", error: str = "", status: int = 200):  # noqa: ANN202 - a page
    registries = _registries()
    for registry in registries.values():
        registry.refresh(force=True)
    return render_template("admin_sps/index.html", registries=registries, message=message, error=error,
                           max_bytes=sp_folder.MAX_BYTES), status


def _registry(idp: str | None) -> SpRegistry | None:
    return _registries().get(idp or "")


@bp.get("")
def index():
    return _page()


@bp.post("/add")
def add():
    registry = _registry(request.form.get("idp"))
    upload = request.files.get("metadata")
    if registry is None:
        return _page(error="Choose the identity provider (Cerbère or CSAM).", status=400)
    if upload is None or not upload.filename:
        return _page(error="Choose a metadata file to upload.", status=400)
    xml = upload.stream.read(sp_folder.MAX_BYTES + 1)
    try:
        added = sp_folder.add(registry, xml, Path(Path(upload.filename).name))
    except sp_folder.Refused as exc:
        return _page(error=str(exc), status=400)
    done = "Updated" if added.replaced else "Registered"
    return _page(message=f"{done} at {registry.title}: {', '.join(added.entity_ids)} ({added.path.name}).")


@bp.post("/remove")
def remove():
    registry = _registry(request.form.get("idp"))
    what = (request.form.get("entity_id") or "").strip()
    if registry is None or not what:
        return _page(error="Say which service provider to remove, and at which identity provider.", status=400)
    try:
        removed = sp_folder.remove(registry, what)
    except sp_folder.Refused as exc:
        return _page(error=str(exc), status=400)
    names = ", ".join(removed.entity_ids) or ", ".join(p.name for p in removed.paths)
    return _page(message=f"Removed from {registry.title}: {names}.")
