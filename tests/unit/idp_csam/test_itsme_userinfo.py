"""itsme's userinfo as CSAM accepts it (idp_csam.methods.itsme.verify_userinfo):
a JWT (application/jwt) signed by the OP then encrypted for CSAM, from the OP,
for CSAM, about the ID token's subject and agreeing with its claims. And the
HTTP back-channel (idp_csam.itsme_backchannel) when nobody answers."""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from jose import jwe, jwt

from fedsim import trust
from fedsim.federation import Settings
from fedsim_harness.stack import create_apps
from fedsim_harness.wsgi_server import ServerOptions
from idp_csam import itsme_backchannel, itsme_op
from idp_csam.itsme_backchannel import Http, Reply, Unreachable
from idp_csam.methods import itsme

ISSUER, CLIENT, SUB, NRN = "http://localhost:5001/itsme-op", "csam-fas", "sub-of-jean", "78020106109"


def new_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return {"op_sig": new_pem(), "rp_enc": new_pem(), "other": new_pem()}


def id_claims(**changes) -> dict:
    return {"iss": ISSUER, "aud": CLIENT, "sub": SUB, itsme_op.NRN_CLAIM: NRN, "given_name": "Jean",
            "family_name": "Dupont", **changes}


def info_claims(**changes) -> dict:
    base = {"iss": ISSUER, "aud": CLIENT, "iat": int(time.time()), "sub": SUB, itsme_op.NRN_CLAIM: NRN,
            "given_name": "Jean", "family_name": "Dupont"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def enc_jwk(keys: dict[str, str]) -> dict:
    return itsme_op.public_jwk(keys["rp_enc"], "RSA-OAEP", "enc")


def jwt_reply(token: str, status: int = 200, content_type: str = "application/jwt") -> Reply:
    return Reply(status, content_type, token.encode())


def good(keys: dict[str, str], **changes) -> Reply:
    return jwt_reply(itsme_op.sign_then_encrypt(info_claims(**changes), keys["op_sig"], enc_jwk(keys)))


def verify(reply: Reply, keys: dict[str, str], **id_changes) -> dict:
    return itsme.verify_userinfo(reply, enc_key_pem=keys["rp_enc"],
                                 op_jwks={"keys": [itsme_op.public_jwk(keys["op_sig"], "RS256", "sig")]},
                                 issuer=ISSUER, client_id=CLIENT, id_claims=id_claims(**id_changes))


def refused(reply: Reply, keys: dict[str, str], **id_changes) -> itsme.UserInfoRefused:
    with pytest.raises(itsme.UserInfoRefused) as info:
        verify(reply, keys, **id_changes)
    return info.value


def test_signed_then_encrypted_userinfo_about_the_same_person_is_accepted(keys: dict[str, str]):
    claims = verify(good(keys), keys)
    assert claims[itsme_op.NRN_CLAIM] == NRN and claims["sub"] == SUB


def test_plain_json_userinfo_is_refused(keys: dict[str, str]):
    plain = Reply(200, "application/json", json.dumps(info_claims()).encode())
    reason = refused(plain, keys)
    assert "n'est pas signée et chiffrée" in reason.message and "application/json" in reason.detail
    # the same JSON announced as a JWT is still no JWE
    assert "n'est pas signée et chiffrée" in refused(jwt_reply(json.dumps(info_claims())), keys).message


def test_signed_but_unencrypted_userinfo_is_refused(keys: dict[str, str]):
    signed = jwt.encode(info_claims(), keys["op_sig"], algorithm="RS256")
    assert "n'est pas signée et chiffrée" in refused(jwt_reply(signed), keys).message


def test_encrypted_but_unsigned_userinfo_is_refused(keys: dict[str, str]):
    bare = jwe.encrypt(json.dumps(info_claims()), enc_jwk(keys), algorithm="RSA-OAEP", encryption="A256GCM").decode()
    assert "n'est pas signée par itsme" in refused(jwt_reply(bare), keys).message
    none_alg = jwt.encode(info_claims(), "", algorithm="HS256")  # neither RS256 nor the OP's key
    token = jwe.encrypt(none_alg, enc_jwk(keys), algorithm="RSA-OAEP", encryption="A256GCM").decode()
    assert "n'est pas signée par itsme" in refused(jwt_reply(token), keys).message


def test_userinfo_signed_by_another_key_is_refused(keys: dict[str, str]):
    kid = itsme_op.public_jwk(keys["op_sig"], "RS256", "sig")["kid"]  # even naming the OP's key
    forged = jwt.encode(info_claims(), keys["other"], algorithm="RS256", headers={"kid": kid})
    token = jwe.encrypt(forged, enc_jwk(keys), algorithm="RSA-OAEP", encryption="A256GCM").decode()
    reason = refused(jwt_reply(token), keys)
    assert "n'est pas signée par itsme" in reason.message and "Signature" in reason.detail


def test_userinfo_encrypted_for_another_key_or_weaker_is_refused(keys: dict[str, str]):
    other = itsme_op.public_jwk(keys["other"], "RSA-OAEP", "enc")
    assert "modifiée" in refused(jwt_reply(itsme_op.sign_then_encrypt(info_claims(), keys["op_sig"], other)),
                                 keys).message
    signed = jwt.encode(info_claims(), keys["op_sig"], algorithm="RS256")
    weak = jwe.encrypt(signed, enc_jwk(keys), algorithm="RSA-OAEP", encryption="A128CBC-HS256").decode()
    assert "A128CBC-HS256" in refused(jwt_reply(weak), keys).detail


def test_userinfo_for_another_subject_is_refused(keys: dict[str, str]):
    reason = refused(good(keys, sub="sub-of-someone-else"), keys)
    assert "concerne une autre personne" in reason.message and "sub" in reason.detail
    assert "concerne une autre personne" in refused(good(keys, sub=None), keys).message


def test_userinfo_whose_claims_differ_from_the_id_token_is_refused(keys: dict[str, str]):
    reason = refused(good(keys, **{itsme_op.NRN_CLAIM: "85031215431"}), keys)
    assert "ne correspondent pas à son jeton d'identité" in reason.message
    assert itsme_op.NRN_CLAIM in reason.detail
    assert "family_name" in refused(good(keys, family_name="Martin"), keys).detail
    assert "registre national" in refused(good(keys, **{itsme_op.NRN_CLAIM: None}), keys).message


def test_userinfo_from_another_issuer_or_for_another_client_is_refused(keys: dict[str, str]):
    assert "iss" in refused(good(keys, iss="http://evil.example/op"), keys).detail
    assert "pas destinée à CSAM" in refused(good(keys, aud="another-rp"), keys).message


def test_a_userinfo_error_status_is_refused(keys: dict[str, str]):
    reason = refused(Reply(401, "application/json", b'{"error": "invalid_token"}'), keys)
    assert "n'a pas communiqué vos données" in reason.message and "401" in reason.detail


# -- the HTTP back-channel ------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed when the block ends: nothing listens there


def test_http_backchannel_to_a_port_where_nothing_listens_is_unreachable():
    with pytest.raises(Unreachable, match="connexion refusée"):
        Http().request("POST", f"http://127.0.0.1:{closed_port()}/itsme-op/token", data={"code": "x"})


def test_http_backchannel_gives_up_after_its_timeout():
    class Silent(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(2)

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(Unreachable, match="pas de réponse en 0.5 s"):
            Http(read_timeout=0.5).request("GET", f"http://127.0.0.1:{server.server_address[1]}/itsme-op/jwks.json")
        assert time.monotonic() - started < 1.8
    finally:
        server.shutdown()
        server.server_close()


def test_the_backchannel_is_chosen_by_configuration():
    app = Flask("probe")
    assert isinstance(itsme_backchannel.backchannel(app), itsme_backchannel.InProcess)  # the default
    app.config["ITSME_BACKCHANNEL"] = "http"
    assert itsme_backchannel.backchannel(app).mode == "http"
    app.config["ITSME_BACKCHANNEL"] = "carrier-pigeon"
    with pytest.raises(ValueError, match="carrier-pigeon"):
        itsme_backchannel.backchannel(app)
    app.config.update(ITSME_BACKCHANNEL="http", ITSME_BACKCHANNEL_TIMEOUT="soon")
    with pytest.raises(ValueError, match="ITSME_BACKCHANNEL_TIMEOUT.*'soon'"):
        itsme_backchannel.check(app)


def test_a_bad_backchannel_setting_stops_csam_at_its_creation(tmp_path: Path):
    settings = dataclasses.replace(Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance")
    trust.ensure(settings)
    with pytest.raises(ValueError, match="ITSME_BACKCHANNEL must be one of .* not 'smoke-signals'"):
        create_apps(settings, 2525, {"idp_csam": {"ITSME_BACKCHANNEL": "smoke-signals"}})


def test_served_federations_use_http_unless_gunicorn_has_too_few_threads():
    assert ServerOptions().app_overrides()["idp_csam"]["ITSME_BACKCHANNEL"] == "http"  # Werkzeug (browser tests)
    assert ServerOptions("gunicorn", 2, 8).app_overrides()["idp_csam"]["ITSME_BACKCHANNEL"] == "http"  # fedsim up
    assert ServerOptions("gunicorn", 2, 2).app_overrides()["idp_csam"]["ITSME_BACKCHANNEL"] == "in-process"
    chosen = ServerOptions().app_overrides({"idp_csam": {"ITSME_BACKCHANNEL": "in-process"}})
    assert chosen["idp_csam"]["ITSME_BACKCHANNEL"] == "in-process"  # an explicit choice stands
