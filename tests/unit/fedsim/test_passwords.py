"""fedsim.passwords: one KDF at one stated cost for CSAM and Cerbère, older
werkzeug hashes still verified."""
from __future__ import annotations

import hashlib
import time

from werkzeug.security import generate_password_hash as werkzeug_hash

from fedsim import passwords


def test_a_hash_is_salted_scrypt_at_the_stated_cost() -> None:
    one, two = passwords.generate_password_hash("s3cret"), passwords.generate_password_hash("s3cret")
    assert one.startswith("scrypt:4096:8:1$") and two.startswith("scrypt:4096:8:1$")
    assert one != two  # salted
    _method, salt, digest = one.split("$")
    assert len(salt) == passwords.SALT_LENGTH
    expected = hashlib.scrypt(b"s3cret", salt=salt.encode(), n=4096, r=8, p=1, maxmem=132 * 1024 * 1024)
    assert digest == expected.hex()


def test_the_right_password_matches_and_others_do_not() -> None:
    stored = passwords.generate_password_hash("Un-mot-de-passe-solide")
    assert passwords.check_password_hash(stored, "Un-mot-de-passe-solide")
    assert not passwords.check_password_hash(stored, "un-mot-de-passe-solide")
    assert not passwords.check_password_hash(stored, "")


def test_hashes_werkzeug_made_before_still_verify() -> None:
    for method in ("scrypt", "pbkdf2:sha256"):  # werkzeug's default, and its older one
        old = werkzeug_hash("ancien", method=method)
        assert passwords.check_password_hash(old, "ancien")
        assert not passwords.check_password_hash(old, "nouveau")
        assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.generate_password_hash("x"))


def test_a_malformed_stored_hash_matches_nothing() -> None:
    for stored in ("", "plain", "scrypt:x:y:z$salt$00", "md5$salt$00"):
        assert not passwords.check_password_hash(stored, "plain")


def test_the_dummy_hash_has_the_same_cost_as_real_ones() -> None:
    assert passwords.dummy_hash() == passwords.dummy_hash()  # made once
    assert passwords.dummy_hash().split("$")[0] == passwords.METHOD


def test_a_check_costs_a_fraction_of_werkzeugs_default() -> None:
    ours, theirs = passwords.generate_password_hash("p"), werkzeug_hash("p")

    def cpu(stored: str) -> float:
        started = time.process_time()
        for _ in range(3):
            passwords.check_password_hash(stored, "p")
        return time.process_time() - started

    assert cpu(ours) * 3 < cpu(theirs)  # N = 2**12 against 2**15: about 8×
