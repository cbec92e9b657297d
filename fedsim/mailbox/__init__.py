"""The embedded mail sink: an aiosmtpd SMTP server storing every message in a
database, and a small web app to read them (pages for people, JSON for
scenarios)."""
