"""Running many scenarios.

In-process (:func:`run_in_process`): ``jobs`` worker processes — processes,
not threads: the clock that ``advance_clock`` moves is process-wide — each
build one federation (WSGI apps, an SMTP sink on a free loopback port) once,
and put it back to its built state (``Federation.reset``) before every
scenario. The parent makes the SAML keys once; each worker copies them into
its own folder (the apps write there: metadata, the eID CRL, itsme keys).

Against running servers (:func:`run_against`): one scenario at a time (they
share one federation), each after ``POST /admin/reset`` on the mailbox.

Either way a scenario's crash is that scenario's failure; ``on_result`` is
called with each result as it finishes; the results come back in the order
of the scenarios given.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing.util import Finalize
from pathlib import Path

from fedsim import trust
from fedsim.federation import Settings
from fedsim_harness.admin import ResetUnavailable, request_reset
from fedsim_harness.scenario.browser import Browser, HttpTransport, WsgiTransport
from fedsim_harness.scenario.model import Scenario
from fedsim_harness.scenario.runner import Runner, ScenarioResult, one_line

OnResult = Callable[[ScenarioResult], None]
APPS = ("monespace", "idp_csam", "modigia_sp", "mailbox")


def prepare_keys(root: Path) -> Path:
    """SAML keys, certificates and metadata under ``root/certs``, for the workers to copy."""
    settings = dataclasses.replace(Settings(), certs_dir=root / "certs", instance_dir=root / "instance")
    trust.ensure(settings)
    return settings.certs_dir


class InProcessWorker:
    """One federation under ``root``, built from a copy of ``certs``, reset before each scenario."""

    def __init__(self, root: Path, certs: Path) -> None:
        from fedsim_harness.stack import start_in_process

        shutil.copytree(certs, root / "certs", dirs_exist_ok=True)
        self.federation = start_in_process(root)

    def run(self, scenario: Scenario) -> ScenarioResult:
        try:
            self.federation.reset()
        except Exception as exc:  # noqa: BLE001 - the scenario fails, the run goes on
            return ScenarioResult(scenario, error=f"the federation could not be reset first: "
                                                  f"{type(exc).__name__}: {exc}")
        browser = Browser(WsgiTransport(self.federation.wsgi_by_netloc()))
        return Runner(browser, self.federation.urls).run(scenario)

    def close(self) -> None:
        self.federation.close()


# -- the worker processes ---------------------------------------------------------------

_worker: InProcessWorker | None = None
_worker_failure = ""


def _start_worker(parent_root: str, certs: str) -> None:
    """Pool initializer: build this process's federation (a failure is kept,
    and reported by each scenario this worker is given)."""
    global _worker, _worker_failure
    # as the fedsim command does: pysaml2's import-time warning is pysaml2's to fix
    warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")
    try:
        _worker = InProcessWorker(Path(tempfile.mkdtemp(prefix="worker-", dir=parent_root)), Path(certs))
        Finalize(_worker, _worker.close, exitpriority=10)
    except Exception as exc:  # noqa: BLE001
        _worker_failure = f"the worker process could not build its federation: {type(exc).__name__}: {exc}"


def _run_in_worker(scenario: Scenario) -> ScenarioResult:
    if _worker is None:
        return ScenarioResult(scenario, error=_worker_failure or "the worker process has no federation")
    return _worker.run(scenario)


def _context() -> multiprocessing.context.BaseContext:
    """fork when this process runs a single thread (fast: the workers inherit
    the imported apps); else forkserver, as forking a threaded process may
    deadlock."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _import_apps() -> None:
    """Import the apps once here, before forking, rather than once per worker."""
    import idp_csam  # noqa: F401
    import modigia_sp  # noqa: F401
    import monespace  # noqa: F401


# -- the two ways to run ---------------------------------------------------------------

def run_in_process(scenarios: Sequence[Scenario], jobs: int, on_result: OnResult | None = None, *,
                   root: Path | None = None) -> list[ScenarioResult]:
    """Run ``scenarios`` on one in-process federation per worker, ``jobs``
    workers; keys and each worker's ``worker-*`` folder go under ``root``
    (default: a temporary folder, removed afterwards)."""
    report = on_result or (lambda _result: None)
    results: list[ScenarioResult | None] = [None] * len(scenarios)
    jobs = max(1, min(jobs, len(scenarios)))
    with tempfile.TemporaryDirectory(prefix="fedsim-run-") as scratch:
        tmp = str(root or scratch)
        certs = prepare_keys(Path(tmp))
        if jobs == 1:
            _run_here(scenarios, Path(tmp), certs, results, report)
        else:
            _import_apps()
            with ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_start_worker,
                                     initargs=(tmp, str(certs))) as pool:
                pending = {pool.submit(_run_in_worker, scenario): i for i, scenario in enumerate(scenarios)}
                for future in as_completed(pending):
                    i = pending[future]
                    try:
                        results[i] = future.result()
                    except Exception as exc:  # noqa: BLE001 - a dead worker, a result that did not cross
                        results[i] = ScenarioResult(scenarios[i], error=f"the worker process failed: "
                                                                        f"{type(exc).__name__}: {one_line(exc)}")
                    report(results[i])
    return results


def _run_here(scenarios: Sequence[Scenario], root: Path, certs: Path, results: list, report: OnResult) -> None:
    try:
        worker = InProcessWorker(Path(tempfile.mkdtemp(prefix="worker-", dir=root)), certs)
    except Exception as exc:  # noqa: BLE001
        failure = f"the federation could not be built: {type(exc).__name__}: {one_line(exc)}"
        for i, scenario in enumerate(scenarios):
            results[i] = ScenarioResult(scenario, error=failure)
            report(results[i])
        return
    try:
        for i, scenario in enumerate(scenarios):
            results[i] = worker.run(scenario)
            report(results[i])
    finally:
        worker.close()


def run_against(scenarios: Sequence[Scenario], urls: dict[str, str],
                on_result: OnResult | None = None) -> list[ScenarioResult]:
    """Run ``scenarios`` one after the other against running servers
    (``urls``: app name → base URL, mailbox included), resetting the
    federation before each."""
    results = []
    for scenario in scenarios:
        try:
            request_reset(urls["mailbox"])
        except ResetUnavailable as exc:
            result = ScenarioResult(scenario, error=f"the federation could not be reset first: {exc}")
        else:
            result = Runner(Browser(HttpTransport()), {name: urls[name] for name in APPS}).run(scenario)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
