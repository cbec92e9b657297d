"""fedsim.protocol_log: one ``fedsim.protocol`` line per SAML step, with the
message ID, the entities, the binding, the outcome, the precise refusal
reason and the request's correlation id."""
from __future__ import annotations

import base64
import logging
from urllib.parse import urlsplit

import pytest
from flask import Flask, g
from sqlalchemy.orm import Session

from fedsim import protocol_log
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import ServiceProvider

LEVEL = "urn:be:fedict:iam:fas:Level500"


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    protocol_log.configure(app)
    app.add_url_rule("/", "index", lambda: g.correlation_id)
    return app


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fedsim.protocol"]


def login(sp: ServiceProvider, idp: IdentityProvider, db: Session) -> tuple[dict[str, str], str]:
    url, relay_state = sp.start_login(db, "/")
    info = idp.parse_redirect(urlsplit(url).query)
    form = idp.respond(info, subject="pairwise-subject", attributes={"givenName": ["Naïma"]}, authn_context=LEVEL)
    return form.fields, relay_state


def test_refused_response_logs_one_line_naming_the_rule_and_the_correlation_id(
        app: Flask, sp: ServiceProvider, idp: IdentityProvider, db: Session,
        caplog: pytest.LogCaptureFixture) -> None:
    fields, relay_state = login(sp, idp, db)
    xml = base64.b64decode(fields["SAMLResponse"]).decode("utf-8")
    tampered = base64.b64encode(xml.replace("Naïma", "Mallory").encode("utf-8")).decode("ascii")
    caplog.set_level(logging.INFO, logger="fedsim.protocol")
    caplog.clear()  # the login's own steps (logged when the logger already lets info through)
    with app.test_request_context("/acs", method="POST"):
        with pytest.raises(SamlRefused) as refused:
            sp.accept(db, tampered, relay_state, [relay_state])
        correlation = g.correlation_id
    (record,) = lines(caplog)
    fields_logged = record.protocol
    assert record.levelno == logging.WARNING
    assert fields_logged["event"] == "Response" and fields_logged["outcome"] == "refused"
    assert fields_logged["correlation_id"] == correlation and len(correlation) == 12
    assert fields_logged["issuer"] == idp.entity_id and fields_logged["destination"] == sp.entity_id
    assert fields_logged["binding"] == "HTTP-POST"
    assert fields_logged["message_id"] and fields_logged["message_id"] in xml
    assert refused.value.reason in fields_logged["reason"] and "ignature" in fields_logged["reason"]
    message = record.getMessage()
    assert f'correlation_id="{correlation}"' in message and 'outcome="refused"' in message
    assert refused.value.reason in message


def test_accepted_login_logs_each_step(sp: ServiceProvider, idp: IdentityProvider, db: Session,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fedsim.protocol")
    fields, relay_state = login(sp, idp, db)
    sp.accept(db, fields["SAMLResponse"], relay_state, [relay_state])
    steps = [(r.protocol["event"], r.protocol["outcome"], r.protocol["issuer"], r.protocol["destination"])
             for r in lines(caplog)]
    assert steps == [("AuthnRequest", "accepted", sp.entity_id, idp.entity_id),
                     ("Response", "issued", idp.entity_id, sp.entity_id),
                     ("Response", "accepted", idp.entity_id, sp.entity_id)]
    request_line, issued, accepted = (r.protocol for r in lines(caplog))
    assert request_line["message_id"] in issued["reason"]  # InResponseTo
    assert issued["message_id"] == accepted["message_id"] != ""
    assert all(r.protocol["correlation_id"] == protocol_log.NO_REQUEST for r in lines(caplog))


def test_refused_authn_request_logs_why(sp: ServiceProvider, idp: IdentityProvider, db: Session,
                                        caplog: pytest.LogCaptureFixture) -> None:
    url, _ = sp.start_login(db, "/")
    caplog.set_level(logging.INFO, logger="fedsim.protocol")
    with pytest.raises(SamlRefused) as refused:
        idp.parse_redirect(urlsplit(url).query.replace("RelayState=", "RelayState=x", 1))
    (record,) = lines(caplog)
    assert record.protocol["event"] == "AuthnRequest" and record.protocol["outcome"] == "refused"
    assert record.protocol["issuer"] == sp.entity_id and record.protocol["message_id"].startswith("id")
    assert record.protocol["reason"].startswith(refused.value.reason)


def test_correlation_id_is_a_short_hash_of_the_session_id_never_the_id() -> None:
    session_id = "A" * 43
    tag = protocol_log.correlation_for(session_id)
    assert tag == protocol_log.correlation_for(session_id) != protocol_log.correlation_for("B" * 43)
    assert len(tag) == 12 and tag not in session_id and session_id not in tag
    assert protocol_log.correlation_for(None) != protocol_log.correlation_for(None)


def test_correlation_id_is_echoed_in_a_response_header(app: Flask) -> None:
    response = app.test_client().get("/")
    assert response.headers[protocol_log.HEADER] == response.get_data(as_text=True)
    assert len(response.headers[protocol_log.HEADER]) == 12


def test_peek_never_parses_and_bounds_what_it_reads() -> None:
    assert protocol_log.peek(b"<samlp:Response xmlns:samlp='x' ID=\"_r1\"><saml:Issuer>https://i</saml:Issuer>") \
        == ("_r1", "https://i")
    assert protocol_log.peek(b"\xff\x00 not xml") == ("", "")
    assert protocol_log.peek(None) == ("", "")


def test_a_line_quotes_every_value_as_json_does(caplog: pytest.LogCaptureFixture) -> None:
    import json
    odd = 'a "quoted" \\ é\n\t\x00\u2028 😀'
    with caplog.at_level(logging.INFO, logger="fedsim.protocol"):
        protocol_log.log_step("Response", message_id=odd, issuer="https://idp", destination="",
                              binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", outcome="issued",
                              reason=odd)
    record = lines(caplog)[-1]
    assert record.getMessage() == " ".join(f"{key}={json.dumps(value, ensure_ascii=False)}"
                                           for key, value in record.protocol.items())
    assert record.protocol["message_id"] == odd and record.protocol["binding"] == "HTTP-POST"


def test_a_step_below_the_loggers_level_reaches_nobody(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[logging.LogRecord] = []
    with caplog.at_level(logging.WARNING, logger="fedsim.protocol"):
        protocol_log.log_step("Response", message_id="_1", issuer="i", destination="d", binding="b",
                              outcome="issued")
        assert not lines(caplog)
        unsubscribe = protocol_log.subscribe(seen.append)  # a subscriber: info lines are kept again
        try:
            protocol_log.log_step("Response", message_id="_2", issuer="i", destination="d", binding="b",
                                  outcome="issued")
        finally:
            unsubscribe()
    assert [r.protocol["message_id"] for r in seen] == ["_2"]
