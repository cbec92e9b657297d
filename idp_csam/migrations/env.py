"""Alembic environment of CSAM's database: idp_csam's models (the digital
keys' included) and the shared SAML state and session tables."""
import idp_csam
from fedsim.db import run_environment
from idp_csam.methods import all_methods

all_methods()  # the digital keys' modules bring their models
run_environment(idp_csam.db.metadata)
