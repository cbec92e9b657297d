"""Benchmark: wall time of every shipped scenario, in-process, as
`fedsim scenario run -j <cores>` runs them (worker processes, one federation
each, reset between scenarios): from the call to the last result, keys and
the workers' federations included, the interpreter's start and imports not.
Also the median time of one reset of a federation (every database back to
its seeded state).

Machines differ by 4x and more, so every figure is also printed as a ratio
to R: the median time of one RSA-2048 PKCS#1 v1.5 SHA-256 signature made
with `cryptography` in the same run (``bench_saml.rsa_signature_ms``).
Target (issue « The harness: repeatable, parallel, pluggable »): all
scenarios in ≤ 15 s on 2 cores.

    .venv/bin/python benchmarks/bench_scenarios.py [--runs 3] [-j N] [--resets 50]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")

from bench_saml import rsa_signature_ms  # noqa: E402 - benchmarks/ is on sys.path when run as a script

from fedsim.federation import PROJECT_ROOT  # noqa: E402
from fedsim_harness.scenario import model, parallel  # noqa: E402
from fedsim_harness.stack import start_in_process  # noqa: E402

TARGET_S = 15.0


def bench_suite(scenarios: list[model.Scenario], jobs: int, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        results = parallel.run_in_process(scenarios, jobs)
        timings.append((time.perf_counter() - started) * 1000)
        failed = [r for r in results if not r.ok]
        if failed:
            raise SystemExit("\n".join(r.headline() for r in failed))
    return timings


def bench_reset(resets: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="fedsim-bench-") as tmp:
        federation = start_in_process(Path(tmp))
        try:
            return [federation.reset() for _ in range(resets)]
        finally:
            federation.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of the whole suite [3]")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes [cores]")
    parser.add_argument("--resets", type=int, default=50, help="resets timed [50]")
    args = parser.parse_args()
    scenarios = model.load_all(PROJECT_ROOT / "scenarios")
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores; {len(scenarios)} scenarios, -j {args.jobs}")
    r_ms = rsa_signature_ms()
    print(f"R (one RSA-2048 SHA-256 signature, cryptography): {r_ms:.3f} ms")
    resets = bench_reset(args.resets)
    suite = bench_suite(scenarios, args.jobs, args.runs)
    r_ms = min(r_ms, rsa_signature_ms())  # measured again after: a busy machine shows in R too
    reset = statistics.median(resets)
    print(f"{'reset (every database, seeded state)':40} median {reset:8.1f} ms = {reset / r_ms:8.0f} R"
          f"   max {max(resets):.1f} ms   ({len(resets)} resets; target ≤ 200 ms)")
    wall = statistics.median(suite)
    verdict = "within" if wall <= TARGET_S * 1000 else "OVER"
    print(f"{'all scenarios, wall':40} median {wall:8.0f} ms = {wall / r_ms:8.0f} R"
          f"   runs: {', '.join(f'{t:.0f}' for t in suite)} ms   (target ≤ {TARGET_S:.0f} s: {verdict})")


if __name__ == "__main__":
    sys.exit(main())
