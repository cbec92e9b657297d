"""Levels of assurance of the Belgian federal authentication service (FAS),
shared by CSAM (which asserts them) and Mon Espace (which maps them)."""
from __future__ import annotations

LEVEL100 = "urn:be:fedict:iam:fas:Level100"  # self-registration
LEVEL200 = "urn:be:fedict:iam:fas:Level200"  # username + password
LEVEL300 = "urn:be:fedict:iam:fas:Level300"  # e-mail security code: not published by the FAS, our choice
LEVEL400 = "urn:be:fedict:iam:fas:Level400"  # security code from a mobile app
LEVEL450 = "urn:be:fedict:iam:fas:Level450"  # itsme
LEVEL500 = "urn:be:fedict:iam:fas:Level500"  # eID card

# Weakest first: what "minimum", "better" and "maximum" in a
# RequestedAuthnContext compare against.
FAS_ORDER = (LEVEL100, LEVEL200, LEVEL300, LEVEL400, LEVEL450, LEVEL500)
