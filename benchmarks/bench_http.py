"""SSO over HTTP against the federation of `fedsim up` (gunicorn), measured
from outside: IdP CPU per SSO response, full logins per second, CPU per full
login, resident size after many logins.

The script starts `fedsim up` itself (a child process, on free ports, in a
temporary folder, keys made once), so what it measures is what README's main
command serves: each app on its own gunicorn (``--workers`` × ``--threads``).
CPU and memory are read from /proc for the whole process tree of `fedsim up`
(or of one app's gunicorn: its master and workers); the HTTP clients run in
this process and are not counted.

- **SSO response from an IdP session** (target ≤ 4 R of IdP CPU each):
  Cerbère — a browser that is logged in at Mon Espace opens Modigia's
  /saml/login with no Modigia session: Modigia → Cerbère (answers silently
  from the Mon Espace session) → Modigia. CSAM — a browser with a CSAM
  session but no Mon Espace session opens Mon Espace's /connexion: Mon
  Espace's SP → CSAM (answers from its session) → Mon Espace. IdP CPU per
  response: the CPU of that IdP's gunicorn tree over the round trips ÷ their
  number (everything else those round trips cost is the SPs').
- **Full two-hop logins** (a new browser each: Modigia → Cerbère → CSAM,
  eID card and PIN → Cerbère → Modigia's home), one client then 8 at once:
  logins/s, and the CPU of the whole federation per login.
- **Floor of an SSO response on this server**: what no code on this design
  can go below: the IdP's CPU for a request that does nothing (GET /health:
  gunicorn, Flask, one ``SELECT 1``; no session, no template), measured the
  same way, plus the answer's cryptography alone (check the Redirect
  signature, two python-xmlsec signatures), measured in this process
  (benchmarks/bench_saml.py's hop floor).
- **Memory**: the federation's resident size (VmRSS summed over its process
  tree) after 100 full logins and after ``--logins`` (default 10,000).

Times are printed in ms and in R, one RSA-2048 SHA-256 signature with
`cryptography`, measured in the same run (as benchmarks/bench_saml.py).

    .venv/bin/python benchmarks/bench_http.py                 # 10,000 logins for the memory figure
    .venv/bin/python benchmarks/bench_http.py --quick         # a few hundred, about a minute
    .venv/bin/python benchmarks/bench_http.py --workers 1 --threads 4
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")

from bench_saml import bench_hop_crypto, rsa_signature_ms
from stress_journeys import accept_policies

from fedsim import personas
from fedsim.federation import Settings
from fedsim_harness import daemon
from fedsim_harness.outside import Journey
from fedsim_harness.scenario.browser import Browser, BrowserError, HttpTransport
from fedsim_harness.serve import PORT_VARIABLES, free_ports
from fedsim_harness.wsgi_server import children, pid_file

PEOPLE = ("jean", "claire")  # an eID card and an active Mon Espace account each
HOME = "Cours disponibles"  # Modigia's home


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children(current))
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and every process below it."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for each in tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def tree_rss_mib(pid: int) -> float:
    """Resident size (VmRSS) of ``pid`` and every process below it."""
    total = 0
    for each in tree(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


class Federation:
    """`fedsim up` in a child process, on free ports, under ``root``."""

    def __init__(self, root: Path, workers: int, threads: int) -> None:
        ports = dict(zip(PORT_VARIABLES.values(), map(str, free_ports(len(PORT_VARIABLES)))))
        self.env = {**os.environ, **ports, "FEDSIM_INSTANCE_DIR": str(root / "instance"),
                    "FEDSIM_CERTS_DIR": str(root / "certs"), "FEDSIM_WORKERS": str(workers),
                    "FEDSIM_THREADS": str(threads), "FEDSIM_SERVER": "gunicorn", "PYTHONUNBUFFERED": "1"}
        self.settings = Settings.from_env(self.env)
        self.log = (root / "fedsim-up.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "fedsim_harness.cli", "up"], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        daemon.wait_until_up(self.settings, timeout=180)
        self.urls = {name: self.settings.base_url(name) for name in ("monespace", "idp_csam", "modigia_sp",
                                                                    "mailbox")}

    def app_pid(self, name: str) -> int:
        """The gunicorn master of ``name`` (its workers are its children)."""
        return int(pid_file(self.settings, name).read_text().strip())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def full_login(urls: dict[str, str], person: personas.Persona) -> Browser:
    """A new browser: Modigia → Cerbère → CSAM (eID) → Cerbère → Modigia's home."""
    browser = Browser(HttpTransport())
    page = Journey(browser, urls, person).run(f"{urls['modigia_sp']}/saml/login", "eid", "Citoyen")
    page = accept_policies(browser, page)
    if HOME not in page.text:
        raise BrowserError(f"not Modigia's home after the login: {page.url} {page.main_text[:200]}")
    return browser


def forget(browser: Browser, cookie: str) -> None:
    """Drop one app's session cookie (cookies are per host, not per port)."""
    jar = browser.transport.session.cookies
    for found in [c for c in jar if c.name == cookie]:
        jar.clear(found.domain, found.path, found.name)


def sso_at_cerbere(browser: Browser, urls: dict[str, str]) -> None:
    forget(browser, "modigia_session")
    page = browser.open(f"{urls['modigia_sp']}/saml/login")
    if HOME not in page.text or any(urls["idp_csam"] in line for line in browser.history[-6:]):
        raise BrowserError(f"Cerbère did not answer silently: {page.url} {page.main_text[:200]}")


def sso_at_csam(browser: Browser, urls: dict[str, str]) -> None:
    forget(browser, "monespace_session")
    page = browser.open(f"{urls['monespace']}/connexion")
    for _ in range(2):
        if "Dans quel contexte souhaitez-vous" in page.text:
            page = browser.click("Citoyen")
    if not page.url.startswith(urls["monespace"]) or page.status != 200 or "connexion" in page.url:
        raise BrowserError(f"CSAM did not answer from its session: {page.url} {page.main_text[:200]}")


def sso_cpu(federation: Federation, idp: str, step, browser: Browser, runs: int) -> float:
    """Seconds of ``idp``'s CPU per SSO round trip."""
    for _ in range(5):  # warm-up: every worker's caches
        step(browser, federation.urls)
    pid = federation.app_pid(idp)
    before = tree_cpu(pid)
    for _ in range(runs):
        step(browser, federation.urls)
    return (tree_cpu(pid) - before) / runs


def empty_request_cpu(federation: Federation, idp: str, runs: int) -> float:
    """Seconds of ``idp``'s CPU per GET /health (keep-alive, as the browser's requests)."""
    browser = Browser(HttpTransport())
    url = f"{federation.urls[idp]}/health"
    for _ in range(20):
        browser.open(url)
    pid = federation.app_pid(idp)
    before = tree_cpu(pid)
    for _ in range(runs):
        page = browser.open(url)
        if page.status != 200:
            raise BrowserError(f"{url}: HTTP {page.status}")
    return (tree_cpu(pid) - before) / runs


def logins(federation: Federation, people: list[personas.Persona], count: int, clients: int) -> tuple[float, float]:
    """``count`` full logins by ``clients`` at once: (logins/s, federation CPU seconds per login)."""
    pid = federation.process.pid
    cpu_before, started = tree_cpu(pid), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda i: full_login(federation.urls, people[i % len(people)]), range(count)))
    wall = time.perf_counter() - started
    return count / wall, (tree_cpu(pid) - cpu_before) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    parser.add_argument("--sso", type=int, default=200, help="SSO round trips per IdP (default 200)")
    parser.add_argument("--rate-logins", type=int, default=100, help="full logins per rate measurement")
    parser.add_argument("--logins", type=int, default=10_000, help="full logins for the memory figure")
    parser.add_argument("--quick", action="store_true", help="--sso 50 --rate-logins 40 --logins 300")
    args = parser.parse_args(argv)
    if args.quick:
        args.sso, args.rate_logins, args.logins = 50, 40, 300
    r_ms = min(rsa_signature_ms() for _ in range(3))  # the best of three: a first run can be slow (warm-up)
    print(f"R = {r_ms:.3f} ms (one RSA-2048 SHA-256 signature, cryptography) · {platform.processor() or 'cpu'} "
          f"· {os.cpu_count()} cores · Python {platform.python_version()}")
    print(f"fedsim up on gunicorn: {args.workers} worker(s) × {args.threads} thread(s) per app")

    def in_r(seconds: float) -> str:
        return f"{seconds * 1000:7.2f} ms = {seconds * 1000 / r_ms:6.1f} R"

    people = [personas.by_id(p) for p in PEOPLE]
    with tempfile.TemporaryDirectory(prefix="fedsim-bench-http-") as folder:
        federation = Federation(Path(folder), args.workers, args.threads)
        try:
            browser = full_login(federation.urls, people[0])
            cerbere = sso_cpu(federation, "monespace", sso_at_cerbere, browser, args.sso)
            csam = sso_cpu(federation, "idp_csam", sso_at_csam, browser, args.sso)
            crypto_ms = bench_hop_crypto(Path(folder) / "floor", 100).answer
            for name, app, seconds in (("Cerbère", "monespace", cerbere), ("CSAM", "idp_csam", csam)):
                verdict = "within" if seconds * 1000 / r_ms <= 4 else "OVER"
                print(f"SSO response from an IdP session, {name:8} IdP CPU {in_r(seconds)}   "
                      f"({args.sso} round trips; target ≤ 4 R: {verdict})")
                empty = empty_request_cpu(federation, app, max(args.sso, 200))
                floor_s = empty + crypto_ms / 1000
                print(f"  floor: GET /health {in_r(empty)} + the answer's crypto {in_r(crypto_ms / 1000)} "
                      f"= {in_r(floor_s)}   ({'below' if floor_s * 1000 / r_ms <= 4 else 'ABOVE'} the target)")
            for person in people[1:]:
                full_login(federation.urls, person)  # its Modigia policies, once
            done = 1 + len(people) - 1
            at_100 = None  # the resident size once 100 logins are done (or the first count past 100)

            def sample_at_100() -> None:
                nonlocal at_100, first_count
                if at_100 is None and done >= 100:
                    at_100, first_count = tree_rss_mib(federation.process.pid), done
                    print(f"  resident size after {done:6} logins: {at_100:7.1f} MiB", flush=True)

            first_count = 0
            for clients in (1, 8):
                rate, cpu = logins(federation, people, args.rate_logins, clients)
                done += args.rate_logins
                print(f"Full two-hop logins, {clients} client(s): {rate:6.1f} logins/s   federation CPU per login "
                      f"{in_r(cpu)}   ({args.rate_logins} logins)")
                sample_at_100()
            if done < 100:
                logins(federation, people, 100 - done, 8)
                done = 100
            sample_at_100()
            while done < args.logins:  # the curve, every 1,000 logins: a leak shows as a slope
                step = min(1000 - done % 1000, args.logins - done)
                logins(federation, people, step, 8)
                done += step
                if done % 1000 == 0 or done == args.logins:
                    print(f"  resident size after {done:6} logins: {tree_rss_mib(federation.process.pid):7.1f} MiB",
                          flush=True)
            at_n = tree_rss_mib(federation.process.pid)
            growth = (at_n / at_100 - 1) * 100
            verdict = "within" if abs(growth) <= 20 else "OVER"
            print(f"Resident size of the federation: {at_100:7.1f} MiB after {first_count} logins, {at_n:7.1f} MiB after "
                  f"{max(args.logins, done)} ({growth:+.1f} %; target within 20 %: {verdict})")
        except Exception:
            federation.log.flush()
            tail = (Path(folder) / "fedsim-up.log").read_text(errors="replace").splitlines()[-15:]
            print("The federation's last words:", *tail, sep="\n  ", file=sys.stderr)
            raise
        finally:
            federation.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
