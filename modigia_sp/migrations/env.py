"""Alembic environment of Modigia's database: its models and the shared
SAML state and session tables."""
import modigia_sp
from fedsim.db import run_environment

run_environment(modigia_sp.db.metadata)
