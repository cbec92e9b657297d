"""A federation to put under load with Locust (benchmarks/locustfile.py):
served like `fedsim up` (each app on its port, the SMTP sink and the
mailbox), in a temporary folder of its own (keys, certificates, databases:
the project's instance/ is left alone), with N synthetic citizens added to
CSAM's people — the same people, in the same order, as
benchmarks/stress_journeys.py makes (eID card, PIN, valid national register
number, an e-mail address of their own), none with a Mon Espace account
yet.

Ports: the FEDSIM_* settings (fedsim.federation.Settings.from_env(): 5000,
5001, 5002, 5025, SMTP 2525 by default), or ``--free-ports``. It prints the
URLs and the Locust command lines that go with them, then serves until
Ctrl-C. Request lines are not logged (``--log-requests`` to see them).

    .venv/bin/python benchmarks/load_federation.py [--people 2000] [--free-ports]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stress_journeys import personas_file, synthetic_people  # noqa: E402

from fedsim.federation import Settings  # noqa: E402
from fedsim_harness import serve  # noqa: E402

PEOPLE_VARIABLE = "FEDSIM_LOAD_PEOPLE"  # how many synthetic citizens the locustfile may use
DEFAULT_PEOPLE = 2000


def start(root: Path, people: int, free_ports: bool = False, base: Settings | None = None) -> serve.ServedFederation:
    """A started federation under ``root`` whose CSAM knows ``people``
    synthetic citizens (``synthetic_people(people)``) besides the shipped
    personas; stop it with ``.stop()``."""
    base = base or Settings.from_env()
    if free_ports:
        settings = serve.settings_on_free_ports(root, base)
    else:
        settings = dataclasses.replace(base, certs_dir=root / "certs", instance_dir=root / "instance")
    overrides = {"idp_csam": {"PERSONAS_FILE": personas_file(synthetic_people(people), root / "load-personas.yaml")}}
    return serve.ServedFederation(settings, overrides=overrides).start()


def environment(federation: serve.ServedFederation, people: int) -> dict[str, str]:
    """The environment that points the locustfile at ``federation``."""
    s = federation.settings
    return {"FEDSIM_HOST": s.host, "FEDSIM_MONESPACE_PORT": str(s.monespace_port),
            "FEDSIM_CSAM_PORT": str(s.csam_port), "FEDSIM_MODIGIA_PORT": str(s.modigia_port),
            "FEDSIM_MAILBOX_PORT": str(s.mailbox_port), PEOPLE_VARIABLE: str(people)}


def usage(federation: serve.ServedFederation, people: int) -> list[str]:
    """What to print: where the apps are and how to run Locust against them."""
    env = " ".join(f"{k}={v}" for k, v in environment(federation, people).items() if k != "FEDSIM_HOST")
    locust = ".venv/bin/locust -f benchmarks/locustfile.py"
    return [
        *(f"  {name:10} {url}" for name, url in federation.urls.items()),
        "",
        "In another terminal (Locust alone; the web UI without --headless, at http://localhost:8089):",
        f"  {env} {locust} --headless -u 20 -r 5 -t 1m",
        "Or as a master and workers (one per core):",
        f"  {env} {locust} --master --headless -u 20 -r 5 -t 1m --expect-workers 2",
        f"  {env} {locust} --worker    # in each of 2 more terminals",
        "Each run starts with a reset of this federation (POST /admin/reset): its synthetic citizens have no "
        "Mon Espace account again.",
        "Ctrl-C stops the federation.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=DEFAULT_PEOPLE,
                        help=f"synthetic citizens CSAM knows (each first login uses one) [{DEFAULT_PEOPLE}]")
    parser.add_argument("--free-ports", action="store_true", help="free ports in 5000–5999, not the FEDSIM_* ones")
    parser.add_argument("--log-requests", action="store_true", help="log every request (Werkzeug's lines)")
    args = parser.parse_args(argv)
    if not args.log_requests:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="fedsim-load-") as tmp:
        started = time.perf_counter()
        try:
            federation = start(Path(tmp), args.people, args.free_ports)
        except serve.CannotListen as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"Federation served with {args.people} synthetic citizens (in {tmp}, "
              f"{time.perf_counter() - started:.1f} s):", *usage(federation, args.people), sep="\n", flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            federation.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
