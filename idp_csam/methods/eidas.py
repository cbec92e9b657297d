"""European authentication, eIDAS (G07, G08): not available yet in the simulator."""
from idp_csam.methods import Method

METHOD = Method(code="eidas", group="europe",
                label="IDENTIFICATION avec une identification électronique reconnue au plan européen",
                level="urn:be:fedict:iam:fas:Level400")
