"""The agents of a Bureau d'Enregistrement Local (G20): only a logged-in
agent opens the office's registration page.

Agents come from the personas file (``bel_agent: {username, password}``),
seeded into ``bel_agent`` with the password hashed by :mod:`fedsim.passwords`
(as CSAM's credentials). A login claims one of ``MAX_FAILURES`` tries first
(:mod:`fedsim.attempts`); the claim that uses the last one locks the agent
for ``LOCKOUT``. One refusal message for every case (unknown agent, wrong
password, locked), one hash check each: neither tells whether an agent
exists. The page's texts are translated like the rest of CSAM
(idp_csam.i18n): an agent may work in Dutch or German.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fedsim import attempts
from fedsim.passwords import generate_password_hash
from fedsim.personas import Persona
from idp_csam.i18n import N_, gettext
from idp_csam.models import BelAgent, Citizen

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD = attempts.LockedPassword(BelAgent.password_hash, BelAgent.failed_logins, BelAgent.locked_until,
                                   MAX_FAILURES, LOCKOUT)
SESSION_KEY = "bel_agent"  # the logged-in agent's username, in the server-side session
REFUSAL = N_("Nom d'utilisateur ou mot de passe d'agent incorrect. Après %(max)d essais erronés, "
             "l'accès de l'agent est bloqué pendant %(minutes)d minutes.")


def refusal() -> str:
    """The one refusal message, in the page's language."""
    return gettext(REFUSAL, max=MAX_FAILURES, minutes=int(LOCKOUT.total_seconds() // 60))


class AgentRefused(Exception):
    def __init__(self, message: str | None = None) -> None:
        message = refusal() if message is None else message
        super().__init__(message)
        self.message = message


def seed(db: Session, people: tuple[Persona, ...]) -> None:
    """The personas' BEL agents (missing ones only; the citizen row first)."""
    for persona in people:
        agent = persona.bel_agent
        if agent is None or db.get(Citizen, persona.nrn) is None or db.get(BelAgent, agent.username) is not None:
            continue
        if db.query(BelAgent).filter(BelAgent.nrn == persona.nrn).first() is not None:
            continue  # this persona is already an agent under another username
        db.add(BelAgent(username=agent.username, nrn=persona.nrn,
                        password_hash=generate_password_hash(agent.password)))
    db.commit()


def verify(db: Session, username: str, password: str) -> BelAgent:
    """The agent behind a right username + password, else AgentRefused."""
    agent = db.get(BelAgent, (username or "").strip())
    key = BelAgent.username == agent.username if agent is not None else None
    if not PASSWORD.check(db, key, agent.password_hash if agent else None, password):
        raise AgentRefused()
    db.refresh(agent)
    return agent


def current(db: Session, session: dict) -> tuple[BelAgent, Citizen] | None:
    """The agent logged in in this session (and the person), if any."""
    username = session.get(SESSION_KEY)
    agent = db.get(BelAgent, username) if isinstance(username, str) else None
    return (agent, db.get(Citizen, agent.nrn)) if agent is not None else None
