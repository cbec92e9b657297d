"""Alembic environment of Mon Espace's database (the portal and Cerbère):
its models and the shared SAML state and session tables."""
import monespace
from fedsim.db import run_environment

run_environment(monespace.db.metadata)
