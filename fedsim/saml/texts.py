"""Texts shown to people, marked for translation without Flask-Babel.

The library speaks French and imports no app: a refusal's reason is built
with ``said("… %(name)s …", name=value)``, a ``str`` whose value is the
French text (``template % variables``), so logs, the protocol log and
``str()`` see exactly the French sentence. It also keeps ``template`` and
``variables``: fedsim.web's error page translates ``template`` with the
app's gettext where there is one (CSAM, whose catalogues hold these
templates: ``pybabel extract -k said … fedsim/saml``, see idp_csam/i18n.py)
and fills in the variables — a variable that is itself ``said(...)`` (a
fragment such as « la Response ») is translated too, the others (entity IDs,
URLs, IDs) are inserted as they are."""
from __future__ import annotations

from collections.abc import Mapping


class Said(str):
    """French text (``template % variables``) that remembers how it was made."""

    template: str
    variables: Mapping[str, object]

    def __new__(cls, template: str, variables: Mapping[str, object] | None = None) -> Said:
        variables = dict(variables or {})
        text = super().__new__(cls, template % variables if variables else template)
        text.template = template
        text.variables = variables
        return text

    def __reduce__(self):  # noqa: ANN204 - a pickled Said stays a Said
        return Said, (self.template, self.variables)


def said(template: str, **variables: object) -> Said:
    """``template`` (French, ``%(name)s`` placeholders) filled with ``variables``."""
    return Said(template, variables)
