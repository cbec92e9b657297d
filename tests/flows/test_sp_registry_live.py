"""Service providers added to and removed from Cerbère and CSAM while the
federation runs (fedsim.saml.registry): a metadata file dropped in, changed
or removed is followed without a restart; a broken or expired one is
skipped with its reason and never stops the federation. CSAM releases the
national register number only to an SP whose metadata requests it. The
``fedsim sp`` commands and the admin page on the mailbox."""
from __future__ import annotations

import base64
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from freezegun import freeze_time
from lxml import etree
from saml2.metadata import entity_descriptor

from downstream_sp import DownstreamSP, browser_with, eid_login, log_in, publish, sp_entity
from fedsim.federation import Entity, entities
from fedsim.personas import Persona, by_id
from fedsim.saml import config as saml_config
from fedsim.saml.registry import EXTENSION, SpRegistry
from fedsim_harness import admin_sps
from fedsim_harness.cli import cli
from fedsim_harness.stack import Federation, start_in_process

MD = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}
NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
FOLLOW_NOW = {"SP_METADATA_CHECK_SECONDS": 0}  # look at the folder on every request (the default: once a second)
LABO = sp_entity("labo-sp")
LABO_ACS = "http://localhost:5999/saml/acs"


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    found = {"cerbere": tmp_path / "cerbere-sps", "csam": tmp_path / "csam-sps"}
    for folder in found.values():
        folder.mkdir()
    return found


@pytest.fixture
def federation(tmp_path: Path, folders: dict[str, Path]):
    fed = start_in_process(tmp_path, overrides={
        "monespace": {"CERBERE_SP_METADATA_DIR": str(folders["cerbere"]), **FOLLOW_NOW},
        "idp_csam": {"SP_METADATA_DIR": str(folders["csam"]), **FOLLOW_NOW}})
    yield fed
    fed.close()


def registry(federation: Federation, app: str) -> SpRegistry:
    return federation.apps[app].extensions[EXTENSION]


def refused_as_unknown(federation: Federation, sp: DownstreamSP) -> bool:
    page = browser_with(federation, sp).transport.request("GET", sp.login_url())
    return page.status == 400 and f"Service inconnu : {sp.entity.entity_id}" in page.text


def set_valid_until(path: Path, moment: str, *, wrap: bool = False) -> None:
    """Give the metadata a validUntil; ``wrap``: on an EntitiesDescriptor around it."""
    root = etree.fromstring(path.read_bytes())
    if wrap:
        outer = etree.Element(f"{{{MD['md']}}}EntitiesDescriptor", nsmap=MD)
        outer.set("validUntil", moment)
        outer.append(root)
        root = outer
    else:
        root.set("validUntil", moment)
    path.write_bytes(etree.tostring(root))


def metadata_requesting(entity: Entity, certs_dir: Path, required: list[str]) -> str:
    """The SP's metadata with RequestedAttributes (md:AttributeConsumingService)."""
    conf = saml_config.config_dict(entity, certs_dir)
    conf["service"]["sp"]["required_attributes"] = required
    return str(entity_descriptor(saml_config.load(conf)))


def attribute_names(sp: DownstreamSP) -> list[str]:
    root = etree.fromstring(base64.b64decode(sp.posted[-1]["SAMLResponse"]))
    return sorted(root.xpath("//saml:Attribute/@Name", namespaces=NS))


# -- Cerbère ------------------------------------------------------------------------


def test_sp_added_to_cerbere_while_it_runs_logs_in_and_once_removed_is_refused(
        federation: Federation, folders: dict[str, Path], tmp_path: Path, jean: Persona) -> None:
    labo = DownstreamSP(LABO, tmp_path / "labo-certs", federation.settings)
    try:
        assert refused_as_unknown(federation, labo)

        path = publish(LABO, tmp_path / "labo-certs", folders["cerbere"])  # no restart
        page = log_in(browser_with(federation, labo), labo, jean)
        assert page.url == LABO_ACS, (page.url, page.text[:300])
        assert labo.accept().first("cerbereUsername") == jean.monespace.cerbere_username
        assert registry(federation, "monespace").state.find(LABO.entity_id).source == str(path)

        path.unlink()
        assert refused_as_unknown(federation, labo)
        # and Modigia, built in, still works
        page = browser_with(federation).open(federation.urls["modigia_sp"] + "/saml/login")
        assert page.url.startswith(federation.urls["idp_csam"]), page.url
    finally:
        labo.close()


def test_a_login_under_way_when_its_sp_is_removed_ends_on_a_clear_error(
        federation: Federation, folders: dict[str, Path], tmp_path: Path, jean: Persona) -> None:
    path = publish(LABO, tmp_path / "labo-certs", folders["cerbere"])
    labo = DownstreamSP(LABO, tmp_path / "labo-certs", federation.settings)
    try:
        browser = browser_with(federation, labo)
        page = browser.open(labo.login_url())  # at CSAM's choice of keys
        path.unlink()
        page = eid_login(browser, jean)
        assert page.status == 400 and "n'est plus enregistré" in page.text, (page.status, page.text[:300])
        assert not labo.posted
    finally:
        labo.close()


def test_broken_and_expired_files_are_skipped_with_the_reason_and_the_others_work(
        tmp_path: Path, folders: dict[str, Path], jean: Persona) -> None:
    folder = folders["cerbere"]
    publish(LABO, tmp_path / "labo-certs", folder)
    (folder / "broken.xml").write_text("pas du XML")
    expired = publish(sp_entity("old-sp", port=5993), tmp_path / "old-certs", folder)
    set_valid_until(expired, "2015-01-01T00:00:00Z")  # like python3-saml's demo metadata
    aggregate = publish(sp_entity("old-group-sp", port=5992), tmp_path / "group-certs", folder)
    set_valid_until(aggregate, "2015-01-01T00:00:00Z", wrap=True)
    no_sp = folder / "an-idp.xml"
    fed = start_in_process(tmp_path, overrides={"monespace": {"CERBERE_SP_METADATA_DIR": str(folder)}})
    try:
        no_sp.write_bytes(saml_config.metadata_file(fed.settings.certs_dir,
                                                    entities(fed.settings)["csam-idp"]).read_bytes())
        registry(fed, "monespace").refresh(force=True)  # that last file came after the start
        state = registry(fed, "monespace").state
        reasons = {Path(s.source).name: s.reason for s in state.skipped}
        assert sorted(reasons) == ["an-idp.xml", "broken.xml", "old-group-sp.xml", "old-sp.xml"], reasons
        assert reasons["broken.xml"].startswith(f"Impossible de charger le fichier de métadonnées {folder}/broken.xml")
        assert "http://localhost:5993/saml/metadata (validUntil 2015-01-01T00:00:00Z) a expiré" \
            in reasons["old-sp.xml"], reasons["old-sp.xml"]
        assert "TooOld" in reasons["old-group-sp.xml"] and "2015-01-01" in reasons["old-group-sp.xml"]
        assert "ne décrit aucun fournisseur de services" in reasons["an-idp.xml"]
        assert [sp.entity_id for sp in state.sps] == [entities(fed.settings)["modigia-sp"].entity_id,
                                                      LABO.entity_id]
        labo = DownstreamSP(LABO, tmp_path / "labo-certs", fed.settings)
        try:
            assert log_in(browser_with(fed, labo), labo, jean).url == LABO_ACS
        finally:
            labo.close()
    finally:
        fed.close()


def test_a_changed_file_that_breaks_keeps_its_last_good_version(
        federation: Federation, folders: dict[str, Path], tmp_path: Path, jean: Persona) -> None:
    path = publish(LABO, tmp_path / "labo-certs", folders["cerbere"])
    labo = DownstreamSP(LABO, tmp_path / "labo-certs", federation.settings)
    try:
        assert log_in(browser_with(federation, labo), labo, jean).url == LABO_ACS
        path.write_text("<md:EntityDescriptor")  # half written, say
        assert log_in(browser_with(federation, labo), labo, jean).url == LABO_ACS
        skipped, = registry(federation, "monespace").state.skipped
        assert skipped.still_in_use and skipped.source == str(path) and "ParseError" in skipped.reason
    finally:
        labo.close()


def test_an_sp_whose_validity_ends_while_it_runs_is_dropped(
        federation: Federation, folders: dict[str, Path], tmp_path: Path) -> None:
    path = publish(LABO, tmp_path / "labo-certs", folders["cerbere"])
    ends = datetime.now(timezone.utc) + timedelta(hours=1)
    set_valid_until(path, ends.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cerbere = registry(federation, "monespace")
    cerbere.refresh()
    assert cerbere.state.find(LABO.entity_id) is not None
    with freeze_time(ends + timedelta(minutes=1)):
        cerbere.refresh()
        assert cerbere.state.find(LABO.entity_id) is None
        assert LABO.entity_id not in cerbere.config.metadata.service_providers()
        skipped, = cerbere.state.skipped
        assert f"{LABO.entity_id} (validUntil {ends:%Y-%m-%dT%H:%M:%SZ}) a expiré." in skipped.reason


def test_the_folder_is_looked_at_once_a_second_at_most(federation: Federation, folders: dict[str, Path],
                                                       tmp_path: Path) -> None:
    ticks = [100.0]
    watched = SpRegistry(registry(federation, "monespace").config, "cerbere", "Cerbère", folders["cerbere"],
                         monotonic=lambda: ticks[0])
    watched.refresh()
    publish(LABO, tmp_path / "labo-certs", folders["cerbere"])
    ticks[0] += 0.5
    watched.refresh()
    assert watched.state.find(LABO.entity_id) is None  # not yet
    ticks[0] += 0.6
    watched.refresh()
    assert watched.state.find(LABO.entity_id) is not None


def test_refreshes_and_lookups_from_many_threads(federation: Federation, folders: dict[str, Path],
                                                 tmp_path: Path) -> None:
    """Request threads read the metadata store while others swap it."""
    cerbere = registry(federation, "monespace")
    store = cerbere.config.metadata
    source = publish(LABO, tmp_path / "labo-certs", tmp_path / "elsewhere")
    errors: list[BaseException] = []
    stop = threading.Event()

    def churn() -> None:
        for n in range(30):
            target = folders["cerbere"] / f"sp-{n % 3}.xml"
            if n % 2:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(source.read_bytes())
            cerbere.refresh(force=True)
        stop.set()

    def read() -> None:
        try:
            while not stop.is_set():
                assert entities(federation.settings)["modigia-sp"].entity_id in store.service_providers()
                store.certs(entities(federation.settings)["modigia-sp"].entity_id, "spsso", "signing")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    churn()
    for thread in readers:
        thread.join(timeout=30)
    assert not errors, errors


# -- CSAM ---------------------------------------------------------------------------


def test_sp_added_to_csam_while_it_runs_gets_everything_but_the_national_number(
        federation: Federation, folders: dict[str, Path], tmp_path: Path, jean: Persona) -> None:
    entity = sp_entity("csam-labo", port=5994)
    sp = DownstreamSP(entity, tmp_path / "csam-labo-certs", federation.settings, idp_name="csam-idp")
    try:
        assert refused_as_unknown(federation, sp)
        publish(entity, tmp_path / "csam-labo-certs", folders["csam"])
        page = log_in(browser_with(federation, sp), sp, jean)
        assert page.url == "http://localhost:5994/saml/acs", (page.url, page.text[:300])
        login = sp.accept()
        assert login.issuer == entities(federation.settings)["csam-idp"].entity_id
        assert "egovNRN" not in login.attributes
        assert attribute_names(sp) == sorted([
            "givenName", "surname", "mail", "PrefLanguage", "urn:be:fedict:iam:attr:fedid",
            "urn:be:fedict:iam:attr:authenticationmethod"])
        assert login.first("givenName") == jean.given_name

        (folders["csam"] / "csam-labo.xml").unlink()
        assert refused_as_unknown(federation, sp)
    finally:
        sp.close()


def test_csam_sends_the_national_number_to_an_sp_that_requests_it(
        federation: Federation, folders: dict[str, Path], tmp_path: Path, jean: Persona) -> None:
    entity = sp_entity("csam-nrn", port=5991)
    certs_dir = tmp_path / "csam-nrn-certs"
    publish(entity, certs_dir, tmp_path / "unused")
    (folders["csam"] / "csam-nrn.xml").write_text(metadata_requesting(entity, certs_dir, ["egovNRN", "givenName"]))
    sp = DownstreamSP(entity, certs_dir, federation.settings, idp_name="csam-idp")
    try:
        assert log_in(browser_with(federation, sp), sp, jean).url == "http://localhost:5991/saml/acs"
        login = sp.accept()
        assert sorted(login.attributes) == ["egovNRN", "givenName"]  # what it asked for, nothing else
        assert login.first("egovNRN") == jean.nrn
    finally:
        sp.close()


def test_mon_espace_requests_the_national_number_and_still_gets_it(federation: Federation, jean: Persona) -> None:
    requested = registry(federation, "idp_csam").state.find(
        entities(federation.settings)["monespace-sp"].entity_id).requested
    assert "egovNRN" in requested
    browser = browser_with(federation)
    browser.open(federation.urls["monespace"] + "/connexion")
    page = eid_login(browser, jean)
    assert "MON TABLEAU DE BORD" in page.text, page.text[:300]
    answer, = [m for m in browser.saml_trace if m.kind == "SAMLResponse"
               and m.url == federation.urls["monespace"] + "/saml/sp/acs"]
    root = etree.fromstring(answer.xml.encode())
    assert root.xpath("string(//saml:Attribute[@Name='egovNRN']/saml:AttributeValue)", namespaces=NS) == jean.nrn


# -- fedsim sp ----------------------------------------------------------------------


class _Serving:
    """One document over HTTP on a free loopback port."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metadata"

    def __enter__(self) -> "_Serving":
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_fedsim_sp_add_list_remove_on_a_running_federation(tmp_path: Path, jean: Persona) -> None:
    fed = start_in_process(tmp_path)  # the default folders, under tmp_path/instance; default check interval
    runner = CliRunner(env={"FEDSIM_INSTANCE_DIR": str(tmp_path / "instance"),
                            "FEDSIM_CERTS_DIR": str(tmp_path / "certs")})
    try:
        mine = publish(LABO, tmp_path / "labo-certs", tmp_path / "mine")
        done = runner.invoke(cli, ["sp", "add", str(mine)])
        assert done.exit_code == 0, done.output
        stored = tmp_path / "instance" / "monespace" / "sp-metadata" / "localhost-5999-saml-metadata.xml"
        assert f"Registered at Cerbère Citoyen: {LABO.entity_id}" in done.output and str(stored) in done.output
        assert stored.read_bytes() == mine.read_bytes()

        time.sleep(1.1)  # the running federation looks at the folder once a second
        labo = DownstreamSP(LABO, tmp_path / "labo-certs", fed.settings)
        try:
            assert log_in(browser_with(fed, labo), labo, jean).url == LABO_ACS

            listed = runner.invoke(cli, ["sp", "list", "--idp", "cerbere"])
            assert listed.exit_code == 0, listed.output
            assert LABO.entity_id in listed.output and LABO_ACS in listed.output
            assert "logout     yes, http://localhost:5999/saml/slo" in listed.output
            assert "built in: " in listed.output and "Skipped" not in listed.output

            again = runner.invoke(cli, ["sp", "add", str(mine)])
            assert again.exit_code == 0 and "Updated at Cerbère Citoyen" in again.output, again.output

            removed = runner.invoke(cli, ["sp", "remove", LABO.entity_id])
            assert removed.exit_code == 0 and f"Removed {stored}" in removed.output, removed.output
            assert not stored.exists()
            time.sleep(1.1)
            assert refused_as_unknown(fed, labo)
        finally:
            labo.close()
    finally:
        fed.close()


def test_fedsim_sp_refuses_what_the_idp_could_not_use(tmp_path: Path) -> None:
    runner = CliRunner(env={"FEDSIM_INSTANCE_DIR": str(tmp_path / "instance"),
                            "FEDSIM_CERTS_DIR": str(tmp_path / "certs")})
    broken = tmp_path / "broken.xml"
    broken.write_text("<md:EntityDescriptor")
    done = runner.invoke(cli, ["sp", "add", str(broken)])
    assert done.exit_code == 1 and "Refused: Impossible de charger le fichier de métadonnées" in done.output
    expired = publish(LABO, tmp_path / "labo-certs", tmp_path / "mine")
    set_valid_until(expired, "2015-01-01T00:00:00Z")
    done = runner.invoke(cli, ["sp", "add", str(expired)])
    assert done.exit_code == 1 and "(validUntil 2015-01-01T00:00:00Z) a expiré." in done.output, done.output
    modigia = tmp_path / "certs" / "modigia-sp.xml"  # made by the first command
    done = runner.invoke(cli, ["sp", "add", str(modigia)])
    assert done.exit_code == 1 and "already registered at Cerbère Citoyen (built in)" in done.output, done.output
    done = runner.invoke(cli, ["sp", "add", "http://127.0.0.1:9/nothing-listens-here"])
    assert done.exit_code == 1 and "cannot fetch http://127.0.0.1:9/nothing-listens-here" in done.output
    done = runner.invoke(cli, ["sp", "remove", "http://localhost:5002/saml/metadata"])
    assert done.exit_code == 1 and "built into Cerbère Citoyen" in done.output, done.output
    done = runner.invoke(cli, ["sp", "remove", "http://nobody.example/metadata", "--idp", "csam"])
    assert done.exit_code == 1 and "No service provider http://nobody.example/metadata is registered at CSAM" \
        in done.output, done.output
    assert not list((tmp_path / "instance" / "monespace" / "sp-metadata").iterdir())


def test_fedsim_sp_add_a_url_at_csam_and_list_a_skipped_file(tmp_path: Path) -> None:
    runner = CliRunner(env={"FEDSIM_INSTANCE_DIR": str(tmp_path / "instance"),
                            "FEDSIM_CERTS_DIR": str(tmp_path / "certs")})
    entity = sp_entity("remote-sp", port=5997)
    document = publish(entity, tmp_path / "remote-certs", tmp_path / "elsewhere").read_bytes()
    with _Serving(document) as served:
        done = runner.invoke(cli, ["sp", "add", served.url, "--idp", "csam"])
    assert done.exit_code == 0, done.output
    folder = tmp_path / "instance" / "idp_csam" / "sp-metadata"
    assert (folder / "localhost-5997-saml-metadata.xml").read_bytes() == document
    (folder / "broken.xml").write_text("pas du XML")
    listed = runner.invoke(cli, ["sp", "list"])
    assert listed.exit_code == 0, listed.output
    cerbere, csam = listed.output.split("\nCSAM (--idp csam)")
    assert "http://localhost:5002/saml/metadata" in cerbere and entity.entity_id not in cerbere
    assert entity.entity_id in csam and "requests   egovNRN" in csam  # Mon Espace's request
    assert "Skipped (1):" in csam and f"{folder}/broken.xml" in csam and "Impossible de charger" in csam
    removed = runner.invoke(cli, ["sp", "remove", "broken.xml", "--idp", "csam"])
    assert removed.exit_code == 0 and not (folder / "broken.xml").exists(), removed.output


# -- the admin page -----------------------------------------------------------------


@pytest.fixture
def admin(federation: Federation):
    assert admin_sps.bp.name in federation.mailbox.blueprints  # mounted by the stack
    return federation.mailbox.test_client()


LOCAL = {"Origin": "http://localhost"}


def test_admin_page_refuses_other_machines_and_other_sites(admin) -> None:  # noqa: ANN001
    assert admin.get("/admin/sps", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    page = admin.post("/admin/sps/remove", data={"idp": "cerbere", "entity_id": "x"},
                      environ_base={"REMOTE_ADDR": "10.1.2.3"}, headers=LOCAL)
    assert page.status_code == 403 and "this machine only" in page.text
    assert admin.post("/admin/sps/remove", data={"idp": "cerbere", "entity_id": "x"}).status_code == 403
    page = admin.post("/admin/sps/remove", data={"idp": "cerbere", "entity_id": "x"},
                      headers={"Origin": "http://evil.example"})
    assert page.status_code == 403 and "another site" in page.text
    # a DNS-rebinding page: the mailbox app (which serves the admin pages) refuses the Host itself
    assert admin.get("/admin/sps", headers={"Host": "rebound.example"}).status_code == 400


def test_admin_page_lists_uploads_and_removes(admin, federation: Federation, folders: dict[str, Path],  # noqa: ANN001
                                              tmp_path: Path, jean: Persona) -> None:
    (folders["csam"] / "broken.xml").write_text("pas du XML")
    page = admin.get("/admin/sps")
    assert page.status_code == 200
    for entity in ("modigia-sp", "monespace-sp"):
        assert entities(federation.settings)[entity].entity_id in page.text
    assert "broken.xml" in page.text and "Impossible de charger le fichier de métadonnées" in page.text

    mine = publish(LABO, tmp_path / "labo-certs", tmp_path / "mine")
    page = admin.post("/admin/sps/add", headers={"Referer": "http://localhost/admin/sps"},
                      data={"idp": "cerbere", "metadata": (mine.open("rb"), "labo.xml")})
    assert page.status_code == 200 and f"Registered at Cerbère Citoyen: {LABO.entity_id}" in page.text, page.text
    labo = DownstreamSP(LABO, tmp_path / "labo-certs", federation.settings)
    try:
        assert log_in(browser_with(federation, labo), labo, jean).url == LABO_ACS

        bad = tmp_path / "bad.xml"
        bad.write_text("<x>du XML, mais pas des metadonnees</x>")
        page = admin.post("/admin/sps/add", headers=LOCAL, data={"idp": "csam", "metadata": (bad.open("rb"), "bad.xml")})
        assert page.status_code == 400 and "ne décrit aucun fournisseur de services" in page.text

        page = admin.post("/admin/sps/remove", headers=LOCAL, data={"idp": "cerbere", "entity_id": LABO.entity_id})
        assert page.status_code == 200 and f"Removed from Cerbère Citoyen: {LABO.entity_id}" in page.text
        assert refused_as_unknown(federation, labo)
        page = admin.post("/admin/sps/remove", headers=LOCAL,
                          data={"idp": "cerbere", "entity_id": entities(federation.settings)["modigia-sp"].entity_id})
        assert page.status_code == 400 and "cannot be removed" in page.text
    finally:
        labo.close()
