"""A real mail of the federation (Mon Espace's activation e-mail) in the web
mailbox: its HTML survives sanitising with its activation link, inside the
sandboxed iframe, and the API's single-message endpoint agrees with the list."""
from __future__ import annotations

import html
import re

from downstream_sp import eid_login

from fedsim.personas import by_id


def test_activation_mail_keeps_its_link_in_the_sandboxed_iframe(federation, browser):
    browser.open(federation.urls["monespace"] + "/connexion")
    eid_login(browser, by_id("sofie"))
    browser.click("Créer mon compte")
    client = federation.mailbox.test_client()
    [listed] = client.get("/api/messages", query_string={"to": by_id("sofie").email}).get_json()["messages"]
    [link] = [l["href"] for l in listed["links"] if l["text"] == "Activer mon compte Mon Espace"]
    assert client.get(f"/api/messages/{listed['id']}").get_json() == listed

    page = client.get(f"/messages/{listed['id']}").get_data(as_text=True)
    [(sandbox, srcdoc)] = re.findall(r'<iframe[^>]*\ssandbox="([^"]*)"[^>]*\ssrcdoc="([^"]*)"', page)
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert f'href="{html.escape(link)}"' in html.unescape(srcdoc)
    browser.open(link)
    assert browser.page.status == 200
