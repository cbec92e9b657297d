"""``/admin/attack`` on the mailbox app: the hostile-IdP catalogue from a
page. For this machine only (like /admin/sps); a run lists every case with
its verdict and decoded messages, over HTTP against the served federation
(``fedsim up``: the page is served by the same process as the SPs) and
in-process."""
from __future__ import annotations

import re

import pytest
import requests

from fedsim_harness import admin_attack
from fedsim_harness.attack import catalogue
from fedsim_harness.scenario.browser import WsgiTransport
from fedsim_harness.stack import Federation, start_in_process

GROUP = "status"  # a small group: a dozen cases


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory):
    """An in-process federation of its own, the page installed (before any request) with in-process browsers."""
    federation = start_in_process(tmp_path_factory.mktemp("admin-attack"))
    table = federation.wsgi_by_netloc()
    admin_attack.install(federation.mailbox, federation.settings, lambda: WsgiTransport(table))
    yield federation
    federation.close()


@pytest.fixture
def admin(in_process: Federation):
    in_process.reset()
    return in_process.mailbox.test_client()


LOCAL = {"Origin": "http://localhost"}


def _case_rows(text: str) -> list[str]:
    return re.findall(r'<tr class="(?:ok|fail)" id="case-([^"]+)"', text)


def test_the_page_refuses_other_machines_hosts_and_sites(admin) -> None:  # noqa: ANN001
    page = admin.get("/admin/attack", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert page.status_code == 403 and "this machine only" in page.text
    page = admin.post("/admin/attack", data={"target": "modigia", "group": GROUP}, headers=LOCAL,
                      environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert page.status_code == 403 and "this machine only" in page.text
    page = admin.post("/admin/attack", data={"target": "modigia", "group": GROUP})  # no Origin, no Referer
    assert page.status_code == 403 and "another site" in page.text
    page = admin.post("/admin/attack", data={"target": "modigia", "group": GROUP},
                      headers={"Origin": "http://evil.example"})
    assert page.status_code == 403 and "another site" in page.text and "case-baseline" not in page.text
    # a DNS-rebinding name: the mailbox app refuses the Host before the page's own guard
    assert admin.get("/admin/attack", headers={"Host": "rebound.example"}).status_code == 400
    page = admin.get("/admin/attack")
    assert page.status_code == 200 and 'name="group" value="xsw"' in page.text and "case-" not in page.text


def test_a_run_in_process_lists_every_case_with_its_messages(admin) -> None:  # noqa: ANN001
    page = admin.post("/admin/attack", data={"target": "monespace", "group": [GROUP, "xml"]},
                      headers={"Referer": "http://localhost/admin/attack"})
    assert page.status_code == 200, page.text
    expected = [c.id for c in catalogue.select([GROUP, "xml"])]
    assert _case_rows(page.text) == expected
    assert f"PASS: {len(expected)} cases" in page.text and 'class="verdict fail"' not in page.text
    assert "Reference: SAML Profiles §4.1.4" in page.text
    assert "<summary>AuthnRequest sent by the SP</summary><pre>&lt;samlp:AuthnRequest" in page.text
    assert "&lt;!DOCTYPE" in page.text and "<!ENTITY" not in page.text  # hostile messages shown escaped


def test_a_form_that_cannot_run_says_why(admin, in_process: Federation) -> None:  # noqa: ANN001
    page = admin.post("/admin/attack", data={"target": "modigia", "group": "nope"}, headers=LOCAL)
    assert page.status_code == 400 and "Unknown group or case: nope" in page.text
    page = admin.post("/admin/attack", data={"target": "other", "entity_id": "urn:example:sp",
                                             "login_url": "javascript:alert(1)", "protected_url": "http://x/"},
                      headers=LOCAL)
    assert page.status_code == 400 and "http(s) URL" in page.text
    page = admin.post("/admin/attack", data={"target": "other", "entity_id": "urn:example:sp",
                                             "login_url": "http://sp.example/login",
                                             "protected_url": "http://sp.example/me", "pattern": "("},
                      headers=LOCAL)
    assert page.status_code == 400 and "not a regular expression" in page.text
    # an SP nothing answers for: the baseline says so, the other cases are not tried
    page = admin.post("/admin/attack", data={"target": "other", "entity_id": "urn:example:sp",
                                             "login_url": "http://sp.example/login",
                                             "protected_url": "http://sp.example/me", "group": GROUP},
                      headers=LOCAL)
    assert page.status_code == 200 and _case_rows(page.text) == ["baseline"]
    assert "HARNESS_FAILURE" in page.text and "were not run" in page.text
    lock = in_process.mailbox.extensions[admin_attack.PAGE].lock
    with lock:
        page = admin.post("/admin/attack", data={"target": "modigia", "group": GROUP}, headers=LOCAL)
    assert page.status_code == 409 and "already under way" in page.text


def test_the_served_federation_runs_it_over_http(live_federation) -> None:  # noqa: ANN001
    mailbox = live_federation.urls["mailbox"]
    assert admin_attack.bp.name in live_federation.apps["mailbox"].blueprints  # installed by serve.py
    assert requests.get(f"{mailbox}/admin/attack", timeout=10).status_code == 200
    refused = requests.post(f"{mailbox}/admin/attack", data={"target": "modigia", "group": GROUP},
                            headers={"Origin": "http://evil.example"}, timeout=10)
    assert refused.status_code == 403
    page = requests.post(f"{mailbox}/admin/attack", data={"target": "modigia", "group": GROUP},
                         headers={"Origin": mailbox}, timeout=120)
    assert page.status_code == 200, page.text
    assert _case_rows(page.text) == [c.id for c in catalogue.select([GROUP])]
    assert "PASS:" in page.text and "&lt;samlp:Response" in page.text



HOSTILE = ["", "A" * 10240, "\x00", "x\r\nSet-Cookie: evil=1", "../../etc/passwd", "//evil.example",
           "javascript:alert(1)", "<script>alert(1)</script>", "{{7*7}}", "(?P<", "\xff\u202e\ufeff",
           "urn:" + "a" * 300, "urn:" + "a" * 2000, "other", "modigia"]


def test_hostile_form_values_never_break_the_page(admin) -> None:  # noqa: ANN001
    fields = ("target", "entity_id", "login_url", "protected_url", "pattern", "idp", "cases", "group")
    for value in HOSTILE:
        for name in fields:
            form = {"target": "other", "entity_id": "urn:example:sp", "login_url": "http://sp.example/login",
                    "protected_url": "http://sp.example/me", "cases": "not-a-case", name: value}
            page = admin.post("/admin/attack", data=form, headers=LOCAL)
            assert page.status_code < 500, (name, value, page.text[:300])
            assert "Traceback" not in page.text and "<script>alert(1)</script>" not in page.text
