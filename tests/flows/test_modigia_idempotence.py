"""Double submits at Modigia are idempotent: the same POST (a lesson marked
as completed, a policy accepted) sent twice, or several times at once from
one browser session, stores one row and answers every copy with the same
page, never a 500. The services behind them, and the first login that
creates the learner, hold under threads with their own database sessions."""
from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from downstream_sp import eid_login
from sqlalchemy import func, select
from test_bad_input import csrf
from werkzeug.test import Client

from fedsim.db import Database
from fedsim.personas import by_id
from fedsim.saml.sp import SamlLogin
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation
from modigia_sp.models import Enrolment, LessonCompletion, PolicyAcceptance, User
from modigia_sp.services import user_from_login

COPIES = 8
COURSE, LESSON = "naid", "naid-1-1"


def log_into_modigia(browser: Browser, federation: Federation) -> None:
    """Jean, logged in at Modigia, on the first page of the policies."""
    browser.open(federation.urls["modigia_sp"] + "/saml/login?next=/")
    eid_login(browser, by_id("jean"))
    assert "/politiques/" in browser.page.url, browser.page.url


def read_document(browser: Browser) -> str:
    """Serve every page of the current policy document; the accept form's path."""
    while browser.has("Page suivante"):
        browser.click("Page suivante")
    return urlsplit(browser.page.tree.xpath("//form[contains(@action, '/accepter')]/@action")[0]).path


def accept_every_policy(browser: Browser) -> None:
    while "/politiques/" in browser.page.url:
        read_document(browser)
        browser.submit({"accept": "yes"}, button="Continuer")
    assert "Cours disponibles" in browser.page.text, browser.page.text[:300]


def at_once(federation: Federation, browser: Browser, path: str, fields: dict[str, str],
            copies: int = COPIES) -> list[tuple[int, str, str]]:
    """POST ``fields`` to Modigia's ``path`` ``copies`` times at once, each
    from its own client carrying the browser's session cookie."""
    modigia = federation.apps["modigia_sp"]
    netloc = urlsplit(federation.urls["modigia_sp"]).netloc
    name = modigia.config["SESSION_COOKIE_NAME"]
    cookie = browser.transport.clients[netloc].get_cookie(name)
    assert cookie is not None
    barrier = threading.Barrier(copies)
    results: list[tuple[int, str, str]] = []

    def post() -> None:
        client = Client(modigia)
        client.set_cookie(name, cookie.value, domain=cookie.domain or "localhost")
        barrier.wait()
        answer = client.post(path, data=fields, base_url=f"http://{netloc}")
        results.append((answer.status_code, answer.headers.get("Location", ""), answer.get_data(as_text=True)))

    threads = [threading.Thread(target=post) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == copies
    return results


def count(federation: Federation, model: type, *where) -> int:  # noqa: ANN002
    with Database.factory(federation.apps["modigia_sp"])() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def same_redirect(results: list[tuple[int, str, str]]) -> str:
    assert {(status, location) for status, location, _ in results} == {(302, results[0][1])}, \
        [(s, loc, body[:300]) for s, loc, body in results if s != 302]
    return results[0][1]


def test_a_policy_accepted_many_times_at_once_is_stored_once(federation: Federation, browser: Browser) -> None:
    log_into_modigia(browser, federation)
    path = read_document(browser)
    token = csrf(browser.page)
    location = same_redirect(at_once(federation, browser, path, {"csrf_token": token, "accept": "yes"}))
    assert location.endswith("/politiques/")
    again = browser.transport.request("POST", federation.urls["modigia_sp"] + path,
                                      {"csrf_token": token, "accept": "yes"})
    assert (again.status, again.headers.get("Location")) == (302, location)  # a late double submit, too
    assert count(federation, PolicyAcceptance, PolicyAcceptance.document == "cgu") == 1


def test_a_lesson_completed_many_times_at_once_is_stored_once(federation: Federation, browser: Browser) -> None:
    log_into_modigia(browser, federation)
    accept_every_policy(browser)
    page = browser.open(f"{federation.urls['modigia_sp']}/cours/{COURSE}/{LESSON}")
    assert page.status == 200
    path = f"/cours/{COURSE}/{LESSON}/terminer"
    fields = {"csrf_token": csrf(page)}
    location = same_redirect(at_once(federation, browser, path, fields))
    assert location.endswith(f"/cours/{COURSE}")
    again = browser.transport.request("POST", federation.urls["modigia_sp"] + path, fields)
    assert (again.status, again.headers.get("Location")) == (302, location)
    assert count(federation, LessonCompletion) == 1
    assert count(federation, Enrolment) == 1
    assert "17 %" in browser.open(federation.urls["modigia_sp"] + location).text


def test_the_first_lessons_of_a_new_course_at_once_enrol_once(federation: Federation, browser: Browser) -> None:
    """Two lessons of a course not yet opened, completed at once: each
    completion enrols; the enrolment is stored once, both lessons are kept."""
    log_into_modigia(browser, federation)
    accept_every_policy(browser)
    page = browser.open(f"{federation.urls['modigia_sp']}/cours/{COURSE}/{LESSON}")  # GET: no enrolment
    fields = {"csrf_token": csrf(page)}
    lessons = ["naid-1-1", "naid-1-2", "naid-2-1", "naid-2-2"] * 2
    modigia = federation.apps["modigia_sp"]
    netloc = urlsplit(federation.urls["modigia_sp"]).netloc
    name = modigia.config["SESSION_COOKIE_NAME"]
    cookie = browser.transport.clients[netloc].get_cookie(name)
    barrier = threading.Barrier(len(lessons))
    statuses: list[int] = []

    def post(lesson: str) -> None:
        client = Client(modigia)
        client.set_cookie(name, cookie.value, domain=cookie.domain or "localhost")
        barrier.wait()
        statuses.append(client.post(f"/cours/{COURSE}/{lesson}/terminer", data=fields,
                                    base_url=f"http://{netloc}").status_code)

    threads = [threading.Thread(target=post, args=(lesson,)) for lesson in lessons]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [302] * len(lessons), statuses
    assert count(federation, Enrolment) == 1
    assert count(federation, LessonCompletion) == 4


def in_threads(copies: int, work: Callable[[], object]) -> list[object]:
    """``work()`` in ``copies`` threads released at once; what each returned or raised."""
    barrier = threading.Barrier(copies)
    outcomes: list[object] = []

    def run() -> None:
        barrier.wait()
        try:
            outcomes.append(work())
        except Exception as exc:  # noqa: BLE001 - the test reports it
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_the_services_hold_under_threads_with_their_own_sessions(federation: Federation) -> None:
    modigia = federation.apps["modigia_sp"]
    factory = Database.factory(modigia)
    login = SamlLogin(issuer="http://localhost:5000/cerbere/metadata", name_id="pairwise-race-1",
                      attributes={"cerbereUsername": ["race.test"], "givenName": ["Ada"], "surname": ["Race"],
                                  "mail": ["ada.race@example.org"]},
                      authn_context=None, session_index=None, next_url="/")

    def first_login() -> int:
        with factory() as db:
            return user_from_login(db, login).id

    ids = in_threads(COPIES, first_login)
    assert all(isinstance(i, int) for i in ids), [repr(i) for i in ids if not isinstance(i, int)]
    assert len(set(ids)) == 1 and count(federation, User, User.name_id == "pairwise-race-1") == 1
    user_id = ids[0]

    catalogue = modigia.extensions["modigia.courses"]
    policies = modigia.extensions["modigia.policies"]
    course = catalogue.get(COURSE)
    lesson = course.lesson(LESSON)
    document = policies.documents[0]

    def complete() -> None:
        with factory() as db:
            catalogue.complete(db, db.get(User, user_id), course, lesson)

    def accept() -> None:
        with factory() as db:
            policies.accept(db, db.get(User, user_id), document, set(range(1, len(document.pages) + 1)))

    for work in (complete, accept):
        outcomes = in_threads(COPIES, work)
        assert outcomes == [None] * COPIES, [repr(o) for o in outcomes if o is not None]
    assert count(federation, LessonCompletion, LessonCompletion.user_id == user_id) == 1
    assert count(federation, Enrolment, Enrolment.user_id == user_id) == 1
    assert count(federation, PolicyAcceptance, PolicyAcceptance.user_id == user_id) == 1
