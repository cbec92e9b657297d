"""Who is in the federation and where: hosts, ports, entity IDs, endpoints.

The single source of truth for URLs. Apps read their own entry and their
peers' metadata files; they never import each other.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    host: str = "localhost"
    monespace_port: int = 5000
    csam_port: int = 5001
    modigia_port: int = 5002
    mailbox_port: int = 5025
    smtp_port: int = 2525
    certs_dir: Path = PROJECT_ROOT / "certs"
    instance_dir: Path = PROJECT_ROOT / "instance"
    # The address the servers listen on (FEDSIM_BIND): loopback only by
    # default; "0.0.0.0" to be reached from other containers. Public URLs
    # still come from ``host`` and the ports.
    bind: str = "127.0.0.1"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()
        ints = {
            name: int(env.get(f"FEDSIM_{name.upper()}", getattr(defaults, name)))
            for name in ("monespace_port", "csam_port", "modigia_port", "mailbox_port", "smtp_port")
        }
        return cls(
            host=env.get("FEDSIM_HOST", defaults.host),
            certs_dir=Path(env.get("FEDSIM_CERTS_DIR", defaults.certs_dir)),
            instance_dir=Path(env.get("FEDSIM_INSTANCE_DIR", defaults.instance_dir)),
            bind=env.get("FEDSIM_BIND", defaults.bind),
            **ints,
        )

    def base_url(self, app: str) -> str:
        port = {"monespace": self.monespace_port, "idp_csam": self.csam_port,
                "modigia_sp": self.modigia_port, "mailbox": self.mailbox_port}[app]
        return f"http://{self.host}:{port}"


@dataclass(frozen=True)
class Entity:
    """One SAML entity: its role, where it lives and its endpoints."""
    name: str          # file stem in certs/: <name>.key, <name>.crt, <name>.xml
    role: str          # "idp" or "sp"
    app: str           # the app that hosts it
    base_url: str
    display_name: str
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def entity_id(self) -> str:
        return self.base_url + self.paths["metadata"]

    def url(self, endpoint: str) -> str:
        return self.base_url + self.paths[endpoint]


def entities(settings: Settings) -> dict[str, Entity]:
    csam = settings.base_url("idp_csam")
    portal = settings.base_url("monespace")
    modigia = settings.base_url("modigia_sp")
    return {
        "csam-idp": Entity("csam-idp", "idp", "idp_csam", csam, "CSAM",
                           {"metadata": "/saml/metadata", "sso": "/saml/sso", "slo": "/saml/slo"}),
        "monespace-sp": Entity("monespace-sp", "sp", "monespace", portal, "Mon Espace",
                               {"metadata": "/saml/sp/metadata", "acs": "/saml/sp/acs", "slo": "/saml/sp/slo"}),
        "cerbere-idp": Entity("cerbere-idp", "idp", "monespace", portal, "Cerbère Citoyen",
                              {"metadata": "/cerbere/metadata", "sso": "/cerbere/sso", "slo": "/cerbere/slo"}),
        "modigia-sp": Entity("modigia-sp", "sp", "modigia_sp", modigia, "Modigia",
                             {"metadata": "/saml/metadata", "acs": "/saml/acs", "slo": "/saml/slo"}),
        # CSAM's eIDAS connector toward the foreign nodes, and the simulated
        # foreign eIDAS proxy service + national IdP (one entity), both hosted
        # by the idp_csam app (G07).
        "csam-eidas-sp": Entity("csam-eidas-sp", "sp", "idp_csam", csam, "CSAM — connecteur eIDAS",
                                {"metadata": "/eidas/sp/metadata", "acs": "/eidas/sp/acs", "slo": "/eidas/sp/slo"}),
        "eidas-node-idp": Entity("eidas-node-idp", "idp", "idp_csam", csam, "Nœud eIDAS étranger (simulé)",
                                 {"metadata": "/eidas-node/metadata", "sso": "/eidas-node/sso",
                                  "slo": "/eidas-node/slo"}),
    }


def display_name(settings: Settings, entity_id: str) -> str | None:
    """The name people know one of the federation's entities by, from its
    entity ID; None for an entity that is not one of ours."""
    return next((e.display_name for e in entities(settings).values() if e.entity_id == entity_id), None)


# Which entity trusts which: an SP trusts its IdP's metadata and vice versa.
TRUST = {
    "csam-idp": ["monespace-sp"],
    "monespace-sp": ["csam-idp"],
    "cerbere-idp": ["modigia-sp"],
    "modigia-sp": ["cerbere-idp"],
    "csam-eidas-sp": ["eidas-node-idp"],
    "eidas-node-idp": ["csam-eidas-sp"],
}
