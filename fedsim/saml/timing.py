"""pysaml2 on the federation's clock.

pysaml2 stamps IssueInstant, NotBefore, NotOnOrAfter and AuthnInstant from
the system clock (``saml2.time_util``), while every check of ours reads
``fedsim.clock`` (which ``FEDSIM_CLOCK_OFFSET``, a scenario's
``advance_clock`` and freezegun move). One federation, one clock: ``install``
makes the instants pysaml2 writes come from ``fedsim.clock`` too.
"""
from __future__ import annotations

import importlib
from datetime import timedelta

import saml2.time_util as time_util

from fedsim import clock

# Modules that did ``from saml2.time_util import <name>`` for a function patched here.
_IMPORTED_BY_NAME = ("saml2.assertion", "saml2.entity", "saml2.s_utils", "saml2.metadata")


def time_in_a_while(days=0, seconds=0, microseconds=0, milliseconds=0, minutes=0, hours=0, weeks=0):  # noqa: ANN001, ANN201
    return clock.now() + timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks)


def time_a_while_ago(days=0, seconds=0, microseconds=0, milliseconds=0, minutes=0, hours=0, weeks=0):  # noqa: ANN001, ANN201
    return clock.now() - timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks)


def in_a_while(days=0, seconds=0, microseconds=0, milliseconds=0, minutes=0, hours=0, weeks=0,  # noqa: ANN001, ANN201
               format=time_util.TIME_FORMAT):  # noqa: A002 - pysaml2's signature
    return time_in_a_while(days, seconds, microseconds, milliseconds, minutes, hours, weeks).strftime(
        format or time_util.TIME_FORMAT)


def instant(format=time_util.TIME_FORMAT, time_stamp=0):  # noqa: A002, ANN001, ANN201 - pysaml2's signature
    if time_stamp:
        return _original_instant(format, time_stamp)
    return clock.now().strftime(format)


_original_instant = time_util.instant
PATCHES = {"time_in_a_while": time_in_a_while, "time_a_while_ago": time_a_while_ago,
           "in_a_while": in_a_while, "instant": instant}


def install() -> None:
    """Idempotent."""
    for name, function in PATCHES.items():
        setattr(time_util, name, function)
    for module_name in _IMPORTED_BY_NAME:
        module = importlib.import_module(module_name)
        for name, function in PATCHES.items():
            if hasattr(module, name):
                setattr(module, name, function)
