"""Alembic environment of the mailbox's database (the SMTP sink's messages)."""
from fedsim.db import run_environment
from fedsim.mailbox.store import MailboxBase

run_environment([MailboxBase.metadata])
