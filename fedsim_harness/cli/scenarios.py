"""``fedsim scenario …``: scripted journeys."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click

from fedsim.federation import PROJECT_ROOT, Settings
from fedsim_harness.cli.exit import Exit
from fedsim_harness.scenario import model, report
from fedsim_harness.scenario.runner import ScenarioResult

SCENARIOS = PROJECT_ROOT / "scenarios"
ATTACKABLE = ("modigia", "monespace")  # our SPs, for --attack


def register(cli: click.Group) -> None:
    cli.add_command(scenario)


@click.group()
def scenario() -> None:
    """Scripted journeys from scenarios/."""


@scenario.command("list")
def scenario_list() -> None:
    for sc in model.load_all(SCENARIOS):
        click.echo(f"{sc.name:24} {' '.join(sc.guide_steps)}  {sc.title}")


@scenario.command("run")
@click.argument("targets", nargs=-1)
@click.option("--running", is_flag=True, help="Drive the servers started by `fedsim up` (reset before each "
                                              "scenario) instead of in-process apps.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for in-process runs, each with its own federation [number of cores].")
@click.option("--browser", is_flag=True, help="Run in Chromium against a federation on free ports, with a "
                                              "screenshot per step (FEDSIM_CHROMIUM: the executable).")
@click.option("--artifacts", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/browser"),
              show_default=True, help="With --browser: where the Playwright trace of a failed scenario is kept.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one self-contained HTML report (steps, timings, decoded SAML, screenshots).")
@click.option("--attack", "attack_sps", multiple=True, type=click.Choice(ATTACKABLE),
              help="Also run the hostile-IdP catalogue against this SP of ours (repeatable; in-process, or "
                   "over HTTP with --running): a table here, a section in the HTML report.")
@click.option("--attack-group", "attack_groups", multiple=True,
              help="With --attack: only the cases of this group (repeatable; see `fedsim attack sp X --list`).")
@click.option("--attack-json", "attack_json", multiple=True, type=click.Path(dir_okay=False, exists=True,
                                                                            path_type=Path),
              help="Add a run saved by `fedsim attack sp TARGET --json FILE` to the HTML report (repeatable).")
@click.pass_obj
def scenario_run(settings: Settings, targets: tuple[str, ...], running: bool, jobs: int | None, browser: bool,
                 artifacts: Path, junit: Path | None, html: Path | None, attack_sps: tuple[str, ...],
                 attack_groups: tuple[str, ...], attack_json: tuple[Path, ...]) -> None:
    """Run scenarios: TARGETS are scenario files, folders of them, or names
    of scenarios/ (all of scenarios/ without TARGETS); exit 1 when one
    fails, or when a run of the hostile-IdP catalogue (--attack) is not
    passed."""

    if running and browser:
        raise click.UsageError("--running and --browser cannot be combined: --browser serves its own federation.")
    attacks = _attack_plan(attack_sps, attack_groups, attack_json)

    try:
        chosen = _collect(targets)
    except model.ScenarioError as exc:
        raise click.UsageError(str(exc)) from None
    scenarios = [c for c in chosen if isinstance(c, model.Scenario)]
    for unloadable in (c for c in chosen if isinstance(c, ScenarioResult)):
        click.echo(unloadable.headline())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fedsim-run-") as scratch:  # keys stay readable for the HTML report
        ok = _run_and_report(settings, chosen, scenarios, Path(scratch), running=running, jobs=jobs,
                             browser=browser, artifacts=artifacts, junit=junit, html=html, started=started,
                             attacks=attacks)
    sys.exit(Exit.OK if ok else Exit.FAILED)


def _run_and_report(settings: Settings, chosen: list, scenarios: list, root: Path, *, running: bool,
                    jobs: int | None, browser: bool, artifacts: Path, junit: Path | None, html: Path | None,
                    started: float, attacks: AttackPlan | None = None) -> bool:
    """Run the scenarios the chosen way (then the attacks), print and write
    the reports; whether every scenario and every attack run passed."""
    from fedsim_harness.scenario import parallel

    certs_dir = root / "certs"
    if browser:
        done, certs_dir = _in_chromium(scenarios, artifacts, root, lambda r: click.echo(r.headline()))
        workers = "in Chromium"
    elif running:
        from fedsim_harness import daemon

        daemon.require_running(settings)  # else one line, not a failure per scenario
        if jobs not in (None, 1):
            click.echo("--running: one scenario at a time (they share one federation); -j is ignored.")
        done = parallel.run_against(scenarios, {n: settings.base_url(n) for n in parallel.APPS},
                                    lambda r: click.echo(r.headline()))
        workers = "against the running federation"
        certs_dir = settings.certs_dir
    else:
        jobs = jobs or os.cpu_count() or 1
        done = parallel.run_in_process(scenarios, jobs, lambda r: click.echo(r.headline()),
                                       root=root) if scenarios else []
        count = min(jobs, len(scenarios))
        workers = f"{count} worker processes" if count > 1 else "in this process"
    ran = iter(done)
    results = [next(ran) if isinstance(c, model.Scenario) else c for c in chosen]
    failed = [r for r in results if not r.ok]
    for result in failed:
        click.echo("\n" + result.describe_failure())
    click.echo(f"\n{len(results) - len(failed)} passed, {len(failed)} failed in "
               f"{time.perf_counter() - started:.1f} s ({workers})")
    sections, attacked = _run_attacks(settings, attacks, root / "attack", running=running) if attacks else ([], True)
    if junit:
        report.write_junit(results, junit)
    if html:
        from fedsim_harness.scenario.html_report import write_html

        click.echo(f"HTML report: {write_html(results, html, certs_dir=certs_dir, attacks=sections)}")
    return not failed and attacked


# -- the hostile-IdP catalogue alongside (--attack, --attack-json) ------------------------


@dataclass(frozen=True)
class AttackPlan:
    sps: tuple[str, ...]
    cases: tuple  # catalogue.Case
    saved: tuple[dict, ...]  # runs read from `fedsim attack sp --json` files


def _attack_plan(sps: tuple[str, ...], groups: tuple[str, ...], saved: tuple[Path, ...]) -> AttackPlan | None:
    """What --attack, --attack-group and --attack-json ask for; a usage error
    for an unknown group or a file that is not such a run."""
    if not sps and not saved:
        if groups:
            raise click.UsageError("--attack-group needs --attack")
        return None
    from fedsim_harness.attack import catalogue

    try:
        cases = catalogue.select(groups)
    except ValueError as exc:
        raise click.UsageError(f"--attack-group: {exc}") from None
    runs = []
    for path in saved:
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise click.UsageError(f"--attack-json {path}: not readable JSON ({exc})") from None
        if not isinstance(run, dict) or not isinstance(run.get("cases"), list) or "target" not in run:
            raise click.UsageError(f"--attack-json {path}: not a report of `fedsim attack sp --json`")
        runs.append({**run, "cases": [_readable_case(case) for case in run["cases"] if isinstance(case, dict)]})
    return AttackPlan(tuple(dict.fromkeys(sps)), cases, tuple(runs))


def _readable_case(case: dict) -> dict:
    from fedsim_harness.attack.report import pretty

    return {**case, **{key: pretty(str(case.get(key) or "")) for key in ("authn_request", "response")}}


def _run_attacks(settings: Settings, plan: AttackPlan, root: Path, *, running: bool) -> tuple[list[dict], bool]:
    """Run the catalogue against each SP of the plan, print its table and
    summary; the report sections (the saved runs last), and whether every
    run made here passed (a saved run is shown, not judged again)."""
    import logging
    import warnings

    from fedsim_harness.attack import driver, sp, targets
    from fedsim_harness.attack import report as attack_report

    sections = []
    federation = None
    logging.disable(logging.WARNING)  # the SPs log every refusal: the table says it better
    try:
        for name in plan.sps:
            if running:
                setup = sp.over_http(settings, targets.builtin(settings, name))
            else:
                if federation is None:
                    from fedsim_harness.stack import start_in_process

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # pysaml2's deprecation warnings say nothing here
                        federation = start_in_process(root)
                setup = sp.in_process(federation, name)
            results = driver.run(setup, plan.cases)
            click.echo(f"\nHostile IdP against {setup.target.label}:\n{attack_report.table(results)}")
            click.echo(attack_report.summary(results))
            sections.append(attack_report.section(results, setup.target.label))
    except targets.TargetError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        logging.disable(logging.NOTSET)
        if federation is not None:
            federation.close()
    for run in plan.saved:
        click.echo(f"\nHostile IdP against {run['target']} (saved run): {run.get('summary', '')}")
    return [*sections, *plan.saved], all(section["passed"] for section in sections)


def _in_chromium(scenarios: list, artifacts: Path, root: Path, on_result) -> tuple[list, Path]:  # noqa: ANN001
    """Serve a federation under ``root`` on free ports (5000–5999: Chromium
    refuses some others) and run ``scenarios`` in Chromium; (results, its
    certs folder)."""
    from fedsim_harness.scenario.chromium import ChromiumUnavailable, chromium_path, run_in_chromium
    from fedsim_harness.serve import ServedFederation, settings_on_free_ports

    try:
        chromium_path()
    except ChromiumUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    settings = settings_on_free_ports(root, Settings.from_env())
    served = ServedFederation(settings).start()
    try:
        return run_in_chromium(scenarios, served, artifacts_dir=artifacts, on_result=on_result), settings.certs_dir
    except ChromiumUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        served.stop()


def _collect(targets: tuple[str, ...]) -> list[model.Scenario | ScenarioResult]:
    """The scenarios named by ``targets``: a file, a folder (its ``*.yaml``),
    or a name in scenarios/. A file that does not load is kept as a failed
    result (the others still run); a name that names nothing is a usage error."""
    paths: list[Path] = []
    for target in targets or (str(SCENARIOS),):
        path = Path(target)
        if path.exists() or "/" in target or target.endswith((".yaml", ".yml")):
            paths.extend(_scenario_files(path))
        else:
            paths.append(SCENARIOS / f"{target}.yaml")
            if not paths[-1].is_file():
                model.find(SCENARIOS, target)  # raises, naming the known ones
    chosen: list[model.Scenario | ScenarioResult] = []
    for path in paths:
        try:
            chosen.append(model.load(path))
        except Exception as exc:  # noqa: BLE001 - a broken file is that scenario's failure
            placeholder = model.Scenario(name=path.stem, title="", persona="", steps=(), path=path)
            chosen.append(ScenarioResult(placeholder, error=f"the file does not load: {exc}"))
    return chosen


def _scenario_files(path: Path) -> list[Path]:
    """A scenario file, or the ``*.yaml`` of a folder; ScenarioError if neither."""
    if path.is_dir():
        found = sorted(path.glob("*.yaml"))
        if not found:
            raise model.ScenarioError(f"no scenario (*.yaml) in {path}")
        return found
    if path.is_file():
        return [path]
    raise model.ScenarioError(f"no scenario file or folder {path}")


@scenario.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def scenario_check(paths: tuple[Path, ...]) -> None:
    """Check scenario files against the schema without running them: PATHS
    are files or folders of *.yaml (scenarios/ without PATHS). Prints each
    problem as file:line:column: message, or « OK name »; exit 1 when a file
    is not valid."""
    from fedsim_harness.scenario import schema

    try:
        files = [f for path in paths or (SCENARIOS,) for f in _scenario_files(path)]
    except model.ScenarioError as exc:
        raise click.UsageError(str(exc)) from None
    invalid = problems = 0
    for path in files:
        spec, found = schema.check(path, _shown(path))
        for problem in found:
            click.echo(str(problem))
        if found or spec is None:
            invalid, problems = invalid + 1, problems + len(found)
        else:
            click.echo(f"OK {spec.name or path.stem}")
    summary = f"{len(files)} scenario file{'s' if len(files) != 1 else ''} checked: {len(files) - invalid} valid"
    click.echo(summary + (f", {invalid} not valid ({problems} problem{'s' if problems != 1 else ''})"
                          if invalid else ""))
    sys.exit(Exit.OK if not invalid else Exit.FAILED)


@scenario.command("schema")
def scenario_schema() -> None:
    """Print the JSON Schema of scenario files (scenarios/scenario.schema.json
    is this output: `fedsim scenario schema > scenarios/scenario.schema.json`)."""
    from fedsim_harness.scenario import schema

    click.echo(schema.json_schema_text(), nl=False)


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is under it (as editors and CI logs link it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
