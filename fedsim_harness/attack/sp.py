"""Putting a run together: the ``driver.Setup`` for one of our SPs in an
in-process federation, or for any SP reached over HTTP."""
from __future__ import annotations

from collections.abc import Callable

from fedsim.federation import Settings
from fedsim_harness.attack import targets
from fedsim_harness.attack.driver import Setup
from fedsim_harness.attack.targets import Target
from fedsim_harness.scenario.browser import HttpTransport, Transport, WsgiTransport


def setup(settings: Settings, target: Target, transport: Callable[[], Transport]) -> Setup:
    """The IdP's real key, and the attacker's and the victim's identities
    as that IdP would send them to the target."""
    return Setup(target, targets.signer(settings, target.idp),
                 targets.identity(settings, target.idp, targets.ATTACKER, target.sp_entity_id),
                 targets.identity(settings, target.idp, targets.VICTIM, target.sp_entity_id),
                 transport, targets.authority(settings, target.idp))


def in_process(federation, name: str, extra_wsgi: dict | None = None) -> Setup:
    """Our SP ``name`` (modigia, monespace) of an in-process federation;
    ``extra_wsgi``: more apps by host:port (an SP written for a test)."""
    target = targets.builtin(federation.settings, name)
    if target is None:
        raise targets.TargetError(f"{name} is not one of the federation's SPs (modigia, monespace)")
    table = {**federation.wsgi_by_netloc(), **(extra_wsgi or {})}
    return setup(federation.settings, target, lambda: WsgiTransport(table))


def over_http(settings: Settings, target: Target) -> Setup:
    return setup(settings, target, HttpTransport)
