"""Password hashing for the two IdPs that keep passwords (CSAM's
username/password accounts, Cerbère's): one KDF at one stated cost, here.

scrypt (RFC 7914, ``hashlib.scrypt``) with N = 2**12, r = 8, p = 1: 4 MiB of
memory and about 12 ms of CPU per hash or check on a 2-core laptop (werkzeug's
default, N = 2**15, costs about 110 ms, eight times as much). Still a real
memory-hard KDF: a random 16-character salt per hash, the parameters stored
in the hash, a constant-time comparison. For a simulator whose passwords are
test personas', a tenth of a production cost keeps a login journey fast and a
load test about the protocol rather than the KDF; a production IdP would use
argon2id at OWASP's cost (19 MiB, t = 2) or scrypt N = 2**17.

The hashes are werkzeug's format (``scrypt:4096:8:1$salt$hex``), so every hash
werkzeug made before (its default scrypt, pbkdf2) still verifies: existing
databases keep working, each hash at the cost it was made with.

The names are werkzeug's (``generate_password_hash``, ``check_password_hash``)
so that the apps change only an import."""
from __future__ import annotations

import functools
import secrets

from werkzeug import security

N, R, P = 2**12, 8, 1
METHOD = f"scrypt:{N}:{R}:{P}"
SALT_LENGTH = 16


def generate_password_hash(password: str) -> str:
    """A salted scrypt hash of ``password`` at this module's cost."""
    return security.generate_password_hash(password, method=METHOD, salt_length=SALT_LENGTH)


def check_password_hash(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (any werkzeug hash: this
    module's, or an older one at its own cost); constant-time comparison.
    A malformed stored hash does not match."""
    try:
        return security.check_password_hash(stored, password)
    except (ValueError, TypeError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made at another cost than this module's."""
    return not stored.startswith(f"{METHOD}$")


@functools.cache
def dummy_hash() -> str:
    """A hash made like real ones (same KDF and cost), checked for unknown
    and locked accounts so that their refusal takes the time of a real check."""
    return generate_password_hash(secrets.token_urlsafe(16))
