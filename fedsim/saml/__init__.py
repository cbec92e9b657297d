"""SAML plumbing shared by the apps: pysaml2 configuration, an SP service and
an IdP service that turn protocol messages into small neutral objects."""
