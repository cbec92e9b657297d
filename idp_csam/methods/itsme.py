"""itsme (G04): not available yet in the simulator."""
from idp_csam.methods import Method

METHOD = Method(code="itsme", group="eid", label="IDENTIFICATION via itsme",
                level="urn:be:fedict:iam:fas:Level450",
                extra_links=(("Créez votre compte itsme", ""),))
