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
    # the titles fedsim.web's own refusals give (before any view: host, address, form)
    N_("Hôte refusé"),
    N_("Adresse invalide"),
    N_("Formulaire invalide"),
    N_("Ce serveur ne répond pas pour cet hôte (en-tête Host non reconnu ; voir FEDSIM_TRUSTED_HOSTS)."),
    N_("Adresse refusée : l'URL contient un octet non ASCII non encodé."),
    N_("Adresse refusée : l'URL contient un caractère nul (%00)."),
    N_("Formulaire refusé : un champ contient un caractère nul."),
)

# fedsim.web.HTTP_ERRORS: the titles and texts of Werkzeug's own HTTP errors
# (tests/unit/idp_csam/test_translations.py checks they are all here).
HTTP_ERRORS = (
    N_("Demande incorrecte"),
    N_("Le navigateur a envoyé une demande que ce serveur ne comprend pas."),
    N_("Authentification requise"),
    N_("Cette adresse demande une authentification que la demande n'apportait pas."),
    N_("Accès interdit"),
    N_("Vous n'avez pas le droit d'accéder à cette page."),
    N_("Page introuvable"),
    N_("Aucune page ne se trouve à cette adresse : vérifiez-la, ou repartez de l'accueil."),
    N_("Méthode non autorisée"),
    N_("Cette adresse n'accepte pas ce type de demande (méthode HTTP)."),
    N_("Conflit"),
    N_("La demande entre en conflit avec l'état actuel : rechargez la page et recommencez."),
    N_("Page disparue"),
    N_("Cette page n'existe plus."),
    N_("Le contenu envoyé est trop volumineux : il n'a pas été lu."),
    N_("Trop de demandes"),
    N_("Trop de demandes en peu de temps : patientez un instant, puis réessayez."),
    N_("Passerelle en erreur"),
    N_("Un service dont cette page dépend a mal répondu. Réessayez dans un instant."),
    N_("Service indisponible"),
    N_("Le service est momentanément indisponible. Réessayez dans un instant."),
)
