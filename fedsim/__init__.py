"""Shared plumbing of the federation simulator: SAML helpers, the in-process
XML-signature backend, certificates, database, mail, clock, personas and the CLI.

Nothing here knows about one app's pages; apps import this package, never
each other.
"""
