"""The relying parties registered with CSAM's OpenID Provider.

They come from two YAML files: the demo client bundled with CSAM
(idp_csam/oidc/data/demo_clients.yaml, the scenarios' relying party) and the
registration file, ``OIDC_CLIENTS_FILE`` or ``<instance>/idp_csam/
oidc_clients.yaml`` (written by ``fedsim oidc register``; an entry of it
replaces a bundled one of the same client_id). The files are read again
when they change: a running CSAM knows a new client at once.

::

    clients:
      - client_id: my-rp
        client_secret_sha256: 5e88…   # or client_secret: "…" (clear); none for a public client
        token_endpoint_auth_method: client_secret_basic   # client_secret_post, or none (public: PKCE S256)
        redirect_uris: [https://rp.example/callback]
        post_logout_redirect_uris: [https://rp.example/]
        scopes: [openid, profile, email, egovnrn]          # what it may ask for (default: all but egovnrn)

A file that is not valid is refused whole, with the reason, and logged:
its clients are unknown until it is fixed (fail closed)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

BUNDLED_FILE = Path(__file__).resolve().parent / "data" / "demo_clients.yaml"
FILE_NAME = "oidc_clients.yaml"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
SCOPES = ("openid", "profile", "email", "egovnrn")
DEFAULT_SCOPES = ("openid", "profile", "email")
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


class ClientsFileError(ValueError):
    """The registration file is not valid; the message says where and why."""


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    token_endpoint_auth_method: str = "client_secret_basic"
    secret_sha256: str | None = None

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def secret_matches(self, secret: str) -> bool:
        if self.secret_sha256 is None or not secret:
            return False
        return hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), self.secret_sha256)

    def as_entry(self) -> dict:
        entry: dict = {"client_id": self.client_id, "token_endpoint_auth_method": self.token_endpoint_auth_method,
                       "redirect_uris": list(self.redirect_uris),
                       "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
                       "scopes": list(self.scopes)}
        if self.secret_sha256:
            entry["client_secret_sha256"] = self.secret_sha256
        return entry


def _uris(entry: dict, key: str, where: str, required: bool) -> tuple[str, ...]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ClientsFileError(f"{where}: {key} must be a list of URIs")
    for uri in value:
        if not uri.startswith(("https://", "http://")) or "#" in uri or len(uri) > 500:
            raise ClientsFileError(f"{where}: {key}: {uri!r} is not an absolute http(s) URI without fragment")
    if required and not value:
        raise ClientsFileError(f"{where}: at least one of {key} is needed")
    return tuple(value)


def parse_entry(entry: object, where: str) -> Client:
    if not isinstance(entry, dict):
        raise ClientsFileError(f"{where}: a client is a mapping")
    unknown = set(entry) - {"client_id", "client_secret", "client_secret_sha256", "public",
                            "token_endpoint_auth_method", "redirect_uris", "post_logout_redirect_uris",
                            "scopes", "name"}
    if unknown:
        raise ClientsFileError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    client_id = entry.get("client_id")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 100 or not set(client_id) <= _ID_CHARS:
        raise ClientsFileError(f"{where}: client_id must be 1–100 letters, digits or -_.:")
    public = entry.get("public", False) is True
    method = entry.get("token_endpoint_auth_method") or ("none" if public else "client_secret_basic")
    if method not in AUTH_METHODS:
        raise ClientsFileError(f"{where}: token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
    if public and method != "none":
        raise ClientsFileError(f"{where}: a public client authenticates with none (and PKCE)")
    secret, digest = entry.get("client_secret"), entry.get("client_secret_sha256")
    if method == "none":
        if secret or digest:
            raise ClientsFileError(f"{where}: a public client (none) has no secret")
    elif isinstance(secret, str) and len(secret) >= 16:
        digest = hashlib.sha256(secret.encode()).hexdigest()
    elif not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise ClientsFileError(f"{where}: a confidential client needs client_secret (16 characters or more) "
                               "or client_secret_sha256 (64 hex digits)")
    scopes = entry.get("scopes", list(DEFAULT_SCOPES))
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s in SCOPES for s in scopes) \
            or "openid" not in scopes:
        raise ClientsFileError(f"{where}: scopes must list openid and only {', '.join(SCOPES)}")
    return Client(client_id=client_id, redirect_uris=_uris(entry, "redirect_uris", where, True),
                  post_logout_redirect_uris=_uris(entry, "post_logout_redirect_uris", where, False),
                  scopes=tuple(scopes), token_endpoint_auth_method=method,
                  secret_sha256=None if method == "none" else digest)


def parse(text: str, where: str) -> dict[str, Client]:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ClientsFileError(f"{where}: not YAML ({exc})") from None
    entries = document.get("clients", []) if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ClientsFileError(f"{where}: expected a mapping with a list « clients »")
    found: dict[str, Client] = {}
    for index, entry in enumerate(entries, 1):
        client = parse_entry(entry, f"{where}: client {index}")
        if client.client_id in found:
            raise ClientsFileError(f"{where}: client_id {client.client_id!r} is given twice")
        found[client.client_id] = client
    return found


def load(path: Path) -> dict[str, Client]:
    """The clients of ``path`` (none when it does not exist)."""
    if not path.is_file():
        return {}
    return parse(path.read_text(encoding="utf-8"), str(path))


def registration_file(config: dict) -> Path:
    """Where CSAM reads (and ``fedsim oidc register`` writes) the registered clients."""
    named = config.get("OIDC_CLIENTS_FILE")
    if named:
        return Path(named)
    return Path(config["FEDSIM_SETTINGS"].instance_dir) / "idp_csam" / FILE_NAME


class Registry:
    """The clients of the bundled file and the registration file, read again when a file changes."""

    def __init__(self, files: tuple[Path, ...]) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._clients: dict[str, Client] = {}

    def _stamp(self) -> tuple:
        stamps = []
        for path in self.files:
            try:
                stat = path.stat()
                stamps.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def clients(self) -> dict[str, Client]:
        stamp = self._stamp()
        with self._lock:
            if stamp != self._seen:
                merged: dict[str, Client] = {}
                for path in self.files:
                    try:
                        merged.update(load(path))
                    except (ClientsFileError, OSError, UnicodeDecodeError, TypeError) as exc:
                        log.error("OIDC clients file refused, its clients are unknown: %s", exc)
                self._clients, self._seen = merged, stamp
            return self._clients

    def get(self, client_id: str) -> Client | None:
        return self.clients().get(client_id)


def register(path: Path, redirect_uris: list[str], *, public: bool = False, client_id: str | None = None,
             post_logout_redirect_uris: list[str] | None = None, scopes: list[str] | None = None,
             auth_method: str | None = None) -> tuple[Client, str | None]:
    """Add a client to the registration file ``path`` (made if missing);
    returns it with its secret in clear (None for a public client), which is
    shown once: the file keeps its SHA-256 only."""
    existing = load(path)
    client_id = client_id or f"rp-{secrets.token_hex(6)}"
    if client_id in existing:
        raise ClientsFileError(f"client_id {client_id!r} is already registered in {path}")
    secret = None if public else secrets.token_urlsafe(32)
    entry = {"client_id": client_id, "public": public, "redirect_uris": list(redirect_uris),
             "post_logout_redirect_uris": list(post_logout_redirect_uris or []),
             "scopes": list(scopes or DEFAULT_SCOPES)}
    if auth_method:
        entry["token_endpoint_auth_method"] = auth_method
    if secret:
        entry["client_secret"] = secret
    client = parse_entry(entry, "the new client")
    document = {"clients": [c.as_entry() for c in existing.values()] + [client.as_entry()]}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("# CSAM's OpenID Connect clients (fedsim oidc register; idp_csam/oidc/clients.py)\n"
                         + yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(temporary, path)
    return client, secret
