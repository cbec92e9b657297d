"""Security code by e-mail (G05, G21): not available yet in the simulator."""
from idp_csam.methods import Method

METHOD = Method(code="email-code", group="code", label="IDENTIFICATION avec un code de sécurité envoyé par e-mail",
                level="urn:be:fedict:iam:fas:Level300")
