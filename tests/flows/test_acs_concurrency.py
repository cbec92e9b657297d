"""One genuine Response posted many times at once at an SP's assertion
consumer service, through the app (its session cookie, its database): the
login happens once, every other post gets a 4xx page, none a 500."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

from sqlalchemy import func, select
from werkzeug.test import Client

from fedsim.db import Database
from fedsim.personas import by_id
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation
from modigia_sp.models import User
from test_bad_input import cerbere_answer, log_into_monespace

COPIES = 8


def test_cerbere_response_posted_eight_times_at_once_logs_in_once(federation: Federation, browser: Browser) -> None:
    log_into_monespace(browser, federation, by_id("jean"))
    acs, fields = cerbere_answer(browser, federation)
    modigia = federation.apps["modigia_sp"]
    cookie_name = modigia.config["SESSION_COOKIE_NAME"]
    cookie = browser.transport.clients[urlsplit(acs).netloc].get_cookie(cookie_name)
    assert cookie is not None, "Modigia gave the browser no session cookie when the login started"
    barrier = threading.Barrier(COPIES)
    results: list[tuple[int, str, str]] = []

    def post() -> None:
        client = Client(modigia)
        client.set_cookie(cookie_name, cookie.value, domain=cookie.domain or "localhost")
        barrier.wait()
        response = client.post(urlsplit(acs).path, data=fields, base_url=f"http://{urlsplit(acs).netloc}")
        results.append((response.status_code, response.headers.get("Location", ""),
                        response.get_data(as_text=True)))

    threads = [threading.Thread(target=post) for _ in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = sorted(status for status, _, _ in results)
    assert len(results) == COPIES
    assert statuses == [302] + [400] * (COPIES - 1), statuses
    refusals = [body for status, _, body in results if status == 400]
    assert all("Traceback" not in body and ("déjà reçu sa réponse" in body or "rejouée" in body)
               for body in refusals), refusals[0][:500]
    with Database.factory(modigia)() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1
