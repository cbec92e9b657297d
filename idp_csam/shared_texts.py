"""The French texts of the error pages that every app shares (fedsim.web and
fedsim/templates/fedsim/error.html), marked here so that pybabel extracts them
into CSAM's catalogues: ``fedsim.web.translated`` shows them in the page's
language in CSAM, the one app with Flask-Babel, and in French elsewhere.
Keep them identical to fedsim.web's (tests/unit/idp_csam/test_shared_texts.py)."""
from __future__ import annotations

from idp_csam.i18n import N_

ERROR_PAGE = (
    N_("Détail technique"),
    N_("Retour à l'accueil"),
    N_("Demande refusée"),  # fedsim.web.UserError's default title
    N_("Message SAML refusé"),
    N_("E-mail non envoyé"),
    N_("Le serveur de courrier n'a pas accepté le message ; rien n'a été enregistré. Réessayez dans un instant."),
    N_("Formulaire refusé"),
    N_("Ce formulaire a expiré ou ne vient pas de cette page (jeton anti-falsification absent ou invalide). "
       "Rechargez la page et recommencez."),
    N_("Demande trop volumineuse"),
    N_("Le contenu envoyé dépasse la limite de %(kib)d Kio (%(bytes)d octets) : il n'a pas été lu."),
    N_("Erreur interne"),
    N_("Une erreur inattendue s'est produite ; elle a été journalisée. Recommencez l'opération."),
)
