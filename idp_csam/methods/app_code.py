"""Security code via a mobile app (G06): not available yet in the simulator."""
from idp_csam.methods import Method

METHOD = Method(code="app-code", group="code",
                label="IDENTIFICATION avec un code de sécurité via une application mobile",
                level="urn:be:fedict:iam:fas:Level400")
