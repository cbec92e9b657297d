"""The pytest plugin (entry point ``pytest11``): the federation as fixtures
for any project's tests, and YAML scenarios as test items.

Fixtures:
- ``federation``: the whole federation in-process (WSGI, no port but the
  SMTP sink's), built once per test session, reset before each test.
- ``live_federation``: the same on real ports (free ones), for a browser or
  an SP that must call it over HTTP; built once, reset before each test.
- ``fedsim_login``: ``fedsim_login(sp, persona="jean", key=None, level=None,
  context=None, idp="cerbere") -> Browser``: registers an outside SP
  (``fedsim_harness.outside.OutsideSP``) at Cerbère or CSAM and logs the
  persona into it; the returned scripted browser holds the SP's cookies.
- ``fedsim_attack``: ``fedsim_attack(target="modigia", groups=(), cases=(),
  wsgi=None) -> list[Result]``: the hostile-IdP catalogue
  (``fedsim_harness.attack``) against one of our SPs (modigia, monespace) or
  a ``fedsim_harness.attack.targets.Target`` served by ``wsgi``
  ({host:port: app}); ``fedsim_harness.attack.report.passed`` judges it.

Option ``--fedsim-scenarios PATH`` (repeatable; a file or a folder): every
``*.yaml`` scenario there becomes a test item, run on the session's
in-process federation after a reset.

Importing this module stays cheap (it is loaded by every pytest run where
fedsim is installed): the apps are imported only when a fixture is used.
"""
from __future__ import annotations

from pathlib import Path

import pytest

SCENARIO_SUFFIXES = (".yaml", ".yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fedsim", "FWB federation simulator (fedsim)")
    group.addoption("--fedsim-scenarios", action="append", default=[], metavar="PATH",
                    help="collect the YAML scenarios of PATH (a scenario file or a folder) as test items")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fedsim_scenario: a YAML scenario of the FWB federation simulator")
    # pysaml2 7.5.5 imports ciphers from their old cryptography location: not
    # the user's to fix, and fatal under filterwarnings = error.
    for moved in ("CFB", "TripleDES"):
        config.addinivalue_line("filterwarnings", f"ignore:{moved} has been moved:"
                                                  "cryptography.utils.CryptographyDeprecationWarning")
    paths = [str(Path(p).resolve()) for p in config.getoption("fedsim_scenarios")]
    for path in paths:
        if not Path(path).exists():
            raise pytest.UsageError(f"--fedsim-scenarios {path}: no such file or folder")
    config.stash[_SCENARIO_ROOTS] = [Path(p) for p in paths]
    if paths:
        config.args.extend(p for p in paths if p not in config.args)


_SCENARIO_ROOTS = pytest.StashKey[list]()
_IN_PROCESS = pytest.StashKey[object]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    roots = parent.config.stash.get(_SCENARIO_ROOTS, [])
    if file_path.suffix in SCENARIO_SUFFIXES and any(file_path == r or r in file_path.parents for r in roots):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFailed(AssertionError):
    pass


class ScenarioFile(pytest.File):
    def collect(self):  # noqa: ANN201 - pytest's collector protocol
        from fedsim_harness.scenario import model

        try:
            scenario = model.load(self.path)
        except model.ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, **kwargs) -> None:  # noqa: ANN001 - a fedsim Scenario
        super().__init__(**kwargs)
        self.scenario = scenario
        self.add_marker(pytest.mark.fedsim_scenario)

    def runtest(self) -> None:
        from fedsim_harness.scenario.browser import Browser, WsgiTransport
        from fedsim_harness.scenario.runner import Runner

        federation = _in_process(self.config)
        federation.reset()
        result = Runner(Browser(WsgiTransport(federation.wsgi_by_netloc())), federation.urls).run(self.scenario)
        if not result.ok:
            raise ScenarioFailed(result.describe_failure())

    def repr_failure(self, excinfo, style=None):  # noqa: ANN001, ANN201 - pytest's protocol
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):  # noqa: ANN201
        steps = " ".join(self.scenario.guide_steps)
        return self.path, None, f"scenario {self.scenario.name} ({steps})"


def _in_process(config: pytest.Config):  # noqa: ANN202 - fedsim_harness.stack.Federation
    """The session's in-process federation, built on first use."""
    if _IN_PROCESS not in config.stash:
        from fedsim_harness.stack import start_in_process

        import shutil
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="fedsim-pytest-"))
        config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
        federation = start_in_process(root, overrides=_database_overrides(config))
        config.stash[_IN_PROCESS] = federation
        config.add_cleanup(federation.close)
    return config.stash[_IN_PROCESS]


def _database_overrides(config: pytest.Config) -> dict[str, dict]:
    """The apps' databases: SQLite files under the federation's folder, or
    with FEDSIM_TEST_DATABASE=postgresql new PostgreSQL databases, one per
    app, dropped at the end (fedsim_harness.databases). Only this federation
    uses them: one a test builds itself (other keys, other folders) keeps
    its own SQLite files, as before."""
    from fedsim_harness import databases

    if databases.chosen() != "postgresql":
        return {}
    # pooled connections of federations tests build and never dispose are
    # closed when the process ends: no failure
    config.addinivalue_line("filterwarnings", "ignore:Exception ignored in. <function BaseConnection.__del__"
                                              ":pytest.PytestUnraisableExceptionWarning")
    server = databases.PostgresDatabases()
    config.add_cleanup(server.drop_all)  # after federation.close (cleanups run last first)
    config.add_cleanup(lambda: _dispose_engines(config))
    return {name: {"DATABASE_URL": server.create(name)} for name in databases.URL_VARIABLES}


def _dispose_engines(config: pytest.Config) -> None:
    """Close the apps' pooled connections before their databases are dropped
    (psycopg warns about a connection left open)."""
    from fedsim.db import Database

    federation = config.stash.get(_IN_PROCESS, None)
    for app in federation.apps.values() if federation is not None else ():
        Database.factory(app).kw["bind"].dispose()


@pytest.fixture
def federation(request: pytest.FixtureRequest):  # noqa: ANN201
    """The federation in-process, built once per session, reset for this test."""
    fed = _in_process(request.config)
    fed.reset()
    return fed


@pytest.fixture(scope="session")
def _fedsim_served(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN202
    from fedsim_harness.serve import ServedFederation, settings_on_free_ports

    settings = settings_on_free_ports(tmp_path_factory.mktemp("fedsim-live"))
    served = ServedFederation(settings).start()
    yield served
    served.stop()


@pytest.fixture
def live_federation(_fedsim_served):  # noqa: ANN001, ANN201
    """The federation on real ports (``.urls``), built once, reset for this test."""
    _fedsim_served.reset()
    return _fedsim_served


@pytest.fixture
def fedsim_login(federation):  # noqa: ANN001, ANN201
    """``fedsim_login(sp, persona="jean", key=None, level=None, context=None,
    idp="cerbere") -> Browser``: register ``sp`` (an OutsideSP) and log the
    persona into it through the in-process federation."""
    from fedsim_harness import outside
    from fedsim_harness.scenario.browser import Browser

    def login(sp: outside.OutsideSP, persona: str = "jean", *, key: str | None = None, level: str | None = None,
              context: str | None = None, idp: str = "cerbere") -> Browser:
        outside.register(federation.apps, sp, idp)
        table = federation.wsgi_by_netloc()
        if sp.wsgi is not None:
            from urllib.parse import urlsplit
            table[urlsplit(sp.login_url).netloc] = sp.wsgi
        browser = Browser(outside.MixedTransport(table))
        return outside.log_in(browser, federation.urls, sp, persona, key=key, level=level, context=context)

    return login


@pytest.fixture
def fedsim_attack(federation):  # noqa: ANN001, ANN201
    """``fedsim_attack(target="modigia", groups=(), cases=(), wsgi=None)``:
    run the hostile-IdP catalogue against an SP in-process; the results."""
    from fedsim_harness.attack import catalogue, driver, sp
    from fedsim_harness.scenario.browser import WsgiTransport

    def attack(target="modigia", groups=(), cases=(), wsgi=None):  # noqa: ANN001, ANN202
        chosen = catalogue.select(groups, cases)
        if isinstance(target, str):
            return driver.run(sp.in_process(federation, target, wsgi), chosen)
        table = {**federation.wsgi_by_netloc(), **(wsgi or {})}
        return driver.run(sp.setup(federation.settings, target, lambda: WsgiTransport(table)), chosen)

    return attack
