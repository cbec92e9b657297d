"""The JOSE of the itsme leg: what CSAM accepts as an ID token, and what the
simulated itsme OP accepts at its token endpoint (over HTTP)."""
from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from freezegun import freeze_time
from jose import jwe, jwt

from fedsim import clock
from fedsim.db import Database
from fedsim_harness.stack import start_in_process
from idp_csam import itsme_op
from idp_csam.itsme_backchannel import Reply
from idp_csam.methods import itsme

JEAN_NRN, JEAN_PHONE = "78020106109", "+32471234567"


def new_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return {"op_sig": new_pem(), "rp_enc": new_pem(), "other": new_pem()}


ISSUER, CLIENT = "http://localhost:5001/itsme-op", "csam-fas"


def claims(**changes) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "abc", "iat": now, "exp": now + 300, "nonce": "n-1",
            "acr": itsme_op.ACR_ADVANCED, itsme_op.NRN_CLAIM: JEAN_NRN}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def op_jwks(keys: dict[str, str]) -> dict:
    return {"keys": [itsme_op.public_jwk(keys["op_sig"], "RS256", "sig")]}


def enc_jwk(keys: dict[str, str]) -> dict:
    return itsme_op.public_jwk(keys["rp_enc"], "RSA-OAEP", "enc")


def verify(token: str, keys: dict[str, str], nonce: str = "n-1") -> dict:
    return itsme.verify_id_token(token, enc_key_pem=keys["rp_enc"], op_jwks=op_jwks(keys),
                                 expected=itsme.Expected(ISSUER, CLIENT, nonce, (itsme_op.ACR_ADVANCED,)))


def refused(token: str, keys: dict[str, str], **kwargs) -> str:
    with pytest.raises(itsme.IdTokenRefused) as info:
        verify(token, keys, **kwargs)
    return info.value.message


def test_a_signed_then_encrypted_id_token_is_accepted(keys: dict[str, str]):
    token = itsme_op.sign_then_encrypt(claims(), keys["op_sig"], enc_jwk(keys))
    assert jwe.get_unverified_header(token)["enc"] == "A256GCM"
    assert verify(token, keys)[itsme_op.NRN_CLAIM] == JEAN_NRN


def test_tampered_ciphertext_is_refused(keys: dict[str, str]):
    token = itsme_op.sign_then_encrypt(claims(), keys["op_sig"], enc_jwk(keys))
    parts = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4)))
    raw[10] ^= 0x01
    parts[3] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert "modifiée" in refused(".".join(parts), keys)


def test_tampered_payload_re_encrypted_is_refused(keys: dict[str, str]):
    """Someone who can encrypt for CSAM (its key is public) changes the NRN
    inside the signed token: the OP's signature no longer matches."""
    signed = jwt.encode(claims(), keys["op_sig"], algorithm="RS256",
                        headers={"kid": op_jwks(keys)["keys"][0]["kid"]})
    header, payload, signature = signed.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged[itsme_op.NRN_CLAIM] = "85031215431"
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    token = jwe.encrypt(f"{header}.{payload}.{signature}", enc_jwk(keys), algorithm="RSA-OAEP",
                        encryption="A256GCM", cty="JWT").decode()
    assert "modifiée" in refused(token, keys)


def test_wrong_audience_is_refused(keys: dict[str, str]):
    token = itsme_op.sign_then_encrypt(claims(aud="another-rp"), keys["op_sig"], enc_jwk(keys))
    assert "pas destinée à CSAM" in refused(token, keys)


def test_expired_id_token_is_refused(keys: dict[str, str]):
    token = itsme_op.sign_then_encrypt(claims(), keys["op_sig"], enc_jwk(keys))
    with freeze_time(datetime.now(UTC) + timedelta(minutes=6)):
        assert "expiré" in refused(token, keys)
    no_exp = itsme_op.sign_then_encrypt(claims(exp=None), keys["op_sig"], enc_jwk(keys))
    assert "modifiée" in refused(no_exp, keys)


def test_signed_only_id_token_is_refused(keys: dict[str, str]):
    signed = jwt.encode(claims(), keys["op_sig"], algorithm="RS256",
                        headers={"kid": op_jwks(keys)["keys"][0]["kid"]})
    assert "pas chiffrée" in refused(signed, keys)


def test_weaker_encryption_is_refused(keys: dict[str, str]):
    signed = jwt.encode(claims(), keys["op_sig"], algorithm="RS256",
                        headers={"kid": op_jwks(keys)["keys"][0]["kid"]})
    token = jwe.encrypt(signed, enc_jwk(keys), algorithm="RSA-OAEP", encryption="A128CBC-HS256").decode()
    assert "modifiée" in refused(token, keys)


def test_token_signed_with_another_key_is_refused(keys: dict[str, str]):
    kid = op_jwks(keys)["keys"][0]["kid"]  # even claiming the OP's key id
    signed = jwt.encode(claims(), keys["other"], algorithm="RS256", headers={"kid": kid})
    token = jwe.encrypt(signed, enc_jwk(keys), algorithm="RSA-OAEP", encryption="A256GCM").decode()
    assert "modifiée" in refused(token, keys)
    hs = jwt.encode(claims(), "secret", algorithm="HS256")
    token = jwe.encrypt(hs, enc_jwk(keys), algorithm="RSA-OAEP", encryption="A256GCM").decode()
    assert "modifiée" in refused(token, keys)


def test_token_encrypted_for_another_key_is_refused(keys: dict[str, str]):
    other = itsme_op.public_jwk(keys["other"], "RSA-OAEP", "enc")
    token = itsme_op.sign_then_encrypt(claims(), keys["op_sig"], other)
    assert "modifiée" in refused(token, keys)


def test_wrong_issuer_nonce_and_acr_are_refused(keys: dict[str, str]):
    encrypt = lambda **c: itsme_op.sign_then_encrypt(claims(**c), keys["op_sig"], enc_jwk(keys))
    assert "modifiée" in refused(encrypt(iss="http://evil.example/op"), keys)
    assert "nonce" in refused(encrypt(), keys, nonce="other")
    assert "niveau de sécurité" in refused(encrypt(acr=itsme_op.ACR_BASIC), keys)
    assert "registre national" in refused(encrypt(**{itsme_op.NRN_CLAIM: None}), keys)


# -- the OP's token endpoint, over HTTP ------------------------------------------------

@pytest.fixture(scope="module")
def csam(tmp_path_factory: pytest.TempPathFactory):
    """One federation for the token endpoint tests: each uses its own code and jti."""
    fed = start_in_process(tmp_path_factory.mktemp("itsme-op"))
    yield fed.apps["idp_csam"]
    fed.close()


def approved_code(app, *, acr: str = itsme_op.ACR_ADVANCED) -> str:
    code = secrets.token_urlsafe(32)
    now = clock.naive_utc_now()
    with Database.factory(app)() as db:
        db.add(itsme_op.ItsmeAuthorization(
            id=secrets.token_urlsafe(16), client_id=CLIENT, redirect_uri="http://localhost:5001/itsme/callback",
            state="s", nonce="n-1", acr=acr, claims=json.dumps([itsme_op.NRN_CLAIM]), phone=JEAN_PHONE,
            created_at=now, expires_at=now + timedelta(minutes=3), status="sent", code=code,
            code_expires_at=now + itsme_op.CODE_LIFETIME))
        db.commit()
    return code


TOKEN_URL = "http://localhost:5001/itsme-op/token"


def token_request(app, code: str, assertion: str | None = None, **changes) -> tuple[int, dict]:
    sig = itsme_op.private_key(app, itsme.SIG_KEY)
    form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT,
            "redirect_uri": "http://localhost:5001/itsme/callback",
            "client_assertion_type": itsme_op.ASSERTION_TYPE,
            "client_assertion": assertion or itsme.client_assertion(sig, CLIENT, TOKEN_URL)}
    form.update(changes)
    response = app.test_client().post("/itsme-op/token", data=form)
    return response.status_code, json.loads(response.data)


def assertion(app, key_pem: str | None = None, **changes) -> str:
    sig = key_pem or itsme_op.private_key(app, itsme.SIG_KEY)
    now = int(time.time())
    body = {"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "iat": now, "exp": now + 60,
            "jti": secrets.token_hex(8)}
    body.update(changes)
    kid = itsme_op.public_jwk(itsme_op.private_key(app, itsme.SIG_KEY), "RS256", "sig")["kid"]
    return jwt.encode({k: v for k, v in body.items() if v is not None}, sig, algorithm="RS256", headers={"kid": kid})


def test_code_exchange_gives_an_encrypted_id_token_and_userinfo(csam):
    status, answer = token_request(csam, approved_code(csam))
    assert status == 200, answer
    assert answer["id_token"].count(".") == 4
    with csam.app_context():
        op_keys = itsme_op.op_jwks(csam)
    got = itsme.verify_id_token(answer["id_token"], enc_key_pem=itsme_op.private_key(csam, itsme.ENC_KEY),
                                op_jwks=op_keys, expected=itsme.Expected(ISSUER, CLIENT, "n-1",
                                                                         (itsme_op.ACR_ADVANCED,)))
    assert got[itsme_op.NRN_CLAIM] == JEAN_NRN
    info = csam.test_client().get("/itsme-op/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert info.status_code == 200 and info.content_type == "application/jwt"
    reply = Reply(info.status_code, info.content_type, info.data)
    userinfo = itsme.verify_userinfo(reply, enc_key_pem=itsme_op.private_key(csam, itsme.ENC_KEY), op_jwks=op_keys,
                                     issuer=ISSUER, client_id=CLIENT, id_claims=got)
    assert userinfo[itsme_op.NRN_CLAIM] == JEAN_NRN and userinfo["sub"] == got["sub"]
    assert csam.test_client().get("/itsme-op/userinfo").status_code == 401


def test_replayed_code_is_refused_and_revokes_the_access_token(csam):
    code = approved_code(csam)
    status, first = token_request(csam, code)
    assert status == 200
    status, second = token_request(csam, code)
    assert status == 400 and second["error"] == "invalid_grant" and "already used" in second["error_description"]
    info = csam.test_client().get("/itsme-op/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert info.status_code == 401


def test_code_older_than_three_minutes_is_refused(csam):
    code = approved_code(csam)
    with freeze_time(datetime.now(UTC) + timedelta(minutes=3, seconds=1)):
        status, answer = token_request(csam, code)
    assert status == 400 and answer["error_description"] == "authorization code expired"


@pytest.mark.parametrize("make, why", [
    (lambda app: assertion(app, key_pem=new_pem()), "Signature verification failed"),
    (lambda app: assertion(app, aud="http://localhost:5001/itsme-op"), "wrong sub or aud"),
    (lambda app: assertion(app, sub="someone-else"), "wrong sub or aud"),
    (lambda app: assertion(app, exp=int(time.time()) - 5), "client assertion refused"),
    (lambda app: assertion(app, exp=int(time.time()) + 3600), "too far"),
    (lambda app: assertion(app, jti=None), "without jti"),
    (lambda app: jwt.encode({"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "exp": int(time.time()) + 60,
                             "jti": "x"}, "secret", algorithm="HS256"), "RS256 only"),
    (lambda app: "not-a-jwt", "malformed"),
])
def test_bad_client_assertion_is_refused(csam, make, why):
    code = approved_code(csam)
    status, answer = token_request(csam, code, assertion=make(csam))
    assert status == 401 and answer["error"] == "invalid_client", answer
    assert why in answer["error_description"]
    assert token_request(csam, code)[0] == 200  # the code was not consumed by the refused request


def test_client_assertion_jti_is_single_use(csam):
    once = assertion(csam)
    assert token_request(csam, approved_code(csam), assertion=once)[0] == 200
    status, answer = token_request(csam, approved_code(csam), assertion=once)
    assert status == 401 and "replayed" in answer["error_description"]


def test_missing_client_authentication_is_refused(csam):
    status, answer = token_request(csam, approved_code(csam), client_assertion_type="", client_assertion="")
    assert status == 401 and answer["error"] == "invalid_client"


def test_unsigned_or_forged_request_object_is_refused(csam):
    client = csam.test_client()
    page = client.get("/itsme-op/authorize", query_string={"client_id": CLIENT})
    assert page.status_code == 400 and "pas signée" in page.get_data(as_text=True)
    forged = jwt.encode({"iss": CLIENT, "aud": ISSUER, "client_id": CLIENT, "exp": int(time.time()) + 60},
                        new_pem(), algorithm="RS256")
    page = client.get("/itsme-op/authorize", query_string={"client_id": CLIENT, "request": forged})
    assert page.status_code == 400 and "invalide ou expirée" in page.get_data(as_text=True)
    page = client.get("/itsme-op/authorize", query_string={"client_id": "nobody", "request": forged})
    assert page.status_code == 400 and "inconnue" in page.get_data(as_text=True)
