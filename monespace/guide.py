"""The help centre's content (G18-G21): the FAQ and the connection guide,
read from YAML, searched without regard to accents or case, and printed as
the « Version PDF » with fpdf2. No Flask here: the blueprint holds one
``HelpCentre`` per app and asks it for pages and bytes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from monespace.demarches import sort_key

DATA = Path(__file__).parent / "data"
FAQ_FILE = DATA / "faq.yaml"
GUIDE_FILE = DATA / "connection_guide.yaml"
MAX_QUERY_LENGTH = 100
PDF_FILENAME = "guide-de-connexion-mon-espace.pdf"


def fold(text: str) -> str:
    """Search form of a text: no accents, no case, « e-mail » = « email »,
    other punctuation as spaces."""
    return " ".join(re.sub(r"[^\w\s]", " ", sort_key(text).replace("-", "")).split())


# -- content -------------------------------------------------------------------


@dataclass(frozen=True)
class FaqEntry:
    category: str
    question: str
    answer: str
    keywords: tuple[str, ...]

    @cached_property
    def haystack(self) -> str:
        return fold(" ".join((self.question, self.answer, *self.keywords)))


@dataclass(frozen=True)
class Faq:
    categories: dict[str, str]  # code -> label (« J'ai un problème technique »)
    entries: tuple[FaqEntry, ...]

    def in_category(self, category: str) -> list[FaqEntry]:
        return [e for e in self.entries if e.category == category]

    def search(self, query: str) -> list[FaqEntry]:
        """Entries holding every word of the query (question, answer or
        keywords); those whose question holds them all come first."""
        words = fold(query[:MAX_QUERY_LENGTH]).split()
        if not words:
            return []
        found = [e for e in self.entries if all(w in e.haystack for w in words)]
        return sorted(found, key=lambda e: not all(w in fold(e.question) for w in words))


@dataclass(frozen=True)
class Method:
    code: str
    tab: str  # « avec un lecteur de carte eID »
    csam_key: str  # the key's label on the CSAM page
    prerequisites: tuple[str, ...]
    installation: tuple[str, ...]
    connection: tuple[str, ...]


@dataclass(frozen=True)
class Office:
    city: str
    name: str
    address: str
    hours: str


@dataclass(frozen=True)
class ForeignProcedure:
    label: str  # the checkbox
    method: str  # the method the checkbox selects
    note: str
    prerequisites: tuple[str, ...]
    connection: tuple[str, ...]
    offices_note: str
    offices: tuple[Office, ...]


@dataclass(frozen=True)
class Contact:
    text: str
    phone: str
    hours: str


@dataclass(frozen=True)
class ConnectionGuide:
    title: str
    intro: str
    contact: Contact
    methods: tuple[Method, ...]
    foreign: ForeignProcedure

    def method(self, code: str) -> Method | None:
        return next((m for m in self.methods if m.code == code), None)


def load_faq(path: Path | None = None) -> Faq:
    raw = yaml.safe_load((path or FAQ_FILE).read_text(encoding="utf-8"))
    categories = dict(raw["categories"])
    entries = tuple(FaqEntry(e["category"], e["question"], e["answer"], tuple(e.get("keywords", ())))
                    for e in raw["faq"])
    unknown = {e.category for e in entries} - set(categories)
    if unknown:
        raise ValueError(f"{path or FAQ_FILE}: FAQ entries in unknown categories {sorted(unknown)}")
    return Faq(categories, entries)


def load_guide(path: Path | None = None) -> ConnectionGuide:
    raw = yaml.safe_load((path or GUIDE_FILE).read_text(encoding="utf-8"))
    methods = tuple(Method(m["code"], m["tab"], m["csam_key"], tuple(m["prerequisites"]),
                           tuple(m["installation"]), tuple(m["connection"])) for m in raw["methods"])
    f = raw["foreign_national"]
    foreign = ForeignProcedure(f["label"], f["method"], f["note"], tuple(f["prerequisites"]),
                               tuple(f["connection"]), f["offices_note"],
                               tuple(Office(**o) for o in f["offices"]))
    guide = ConnectionGuide(raw["title"], raw["intro"], Contact(**raw["contact"]), methods, foreign)
    if guide.method(foreign.method) is None:
        raise ValueError(f"{path or GUIDE_FILE}: the foreign-national method {foreign.method!r} is not a method")
    return guide


class HelpCentre:
    """The FAQ and the guide of one app; the PDF is built once, on first use
    (the content does not change while the app runs)."""

    def __init__(self, faq: Faq, guide: ConnectionGuide) -> None:
        self.faq = faq
        self.guide = guide

    @classmethod
    def load(cls, faq_path: Path | None = None, guide_path: Path | None = None) -> "HelpCentre":
        return cls(load_faq(faq_path), load_guide(guide_path))

    @cached_property
    def pdf(self) -> bytes:
        return build_pdf(self.guide)


# -- the « Version PDF » -------------------------------------------------------

# The PDF core fonts (Helvetica…) are encoded WinAnsi (cp1252): accents,
# ’ « » œ … – — and • print as such. Anything else is mapped here, or
# becomes « ? » rather than an error.
_PDF_EQUIVALENTS = str.maketrans({"\u202f": " ", "\u2009": " ", "\u2011": "-", "\u2010": "-",
                                  "\u2192": "->", "\u2197": "", "\u22ee": "...", "\u2713": "v"})


def pdf_text(text: str) -> str:
    return text.translate(_PDF_EQUIVALENTS).encode("cp1252", "replace").decode("cp1252")


class _GuidePdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.core_fonts_encoding = "cp1252"
        self.guide_title = title

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.set_text_color(120)
        self.cell(0, 6, pdf_text(f"Mon Espace — {self.guide_title} — page {self.page_no()}"), align="C")

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(3)
        self.set_font("Helvetica", "B", size)
        self.set_text_color(228, 0, 58)
        self.multi_cell(0, size * 0.5, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(29, 29, 27)

    def paragraph(self, text: str, style: str = "") -> None:
        self.set_font("Helvetica", style, 10)
        self.multi_cell(0, 5, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def section(self, title: str, items: tuple[str, ...]) -> None:
        self.ln(1)
        self.paragraph(title, "B")
        for item in items:
            self.set_x(self.l_margin + 4)
            self.set_font("Helvetica", size=10)
            self.multi_cell(0, 5, pdf_text(f"• {item}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def build_pdf(guide: ConnectionGuide, *, compress: bool = True) -> bytes:
    """The whole guide: every method, the foreign-national procedure with its
    offices, and the help line."""
    pdf = _GuidePdf(guide.title)
    pdf.set_compression(compress)
    pdf.set_title(f"Mon Espace — {guide.title}")
    pdf.set_author("Fédération Wallonie-Bruxelles")
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.heading(f"Mon Espace — {guide.title}", size=18)
    pdf.paragraph(guide.intro)
    for method in guide.methods:
        pdf.heading(f"Je me connecte {method.tab}")
        pdf.paragraph(f"Clé numérique CSAM : « {method.csam_key} »", "I")
        pdf.section("1. Pré-requis — je me munis de :", method.prerequisites)
        pdf.section("2. Installation", method.installation)
        pdf.section("3. Connexion", method.connection)
    foreign = guide.foreign
    pdf.heading(foreign.label)
    pdf.paragraph(f"Méthode à utiliser : « {guide.method(foreign.method).csam_key} ».", "I")
    pdf.section("1. Pré-requis", foreign.prerequisites)
    pdf.section("2. Connexion", foreign.connection)
    pdf.section("Bureaux d'Enregistrement Local (BEL) — exemples",
                tuple(f"{o.name}, {o.address} ({o.hours})" for o in foreign.offices))
    pdf.heading("Besoin d'aide ?")
    pdf.paragraph(guide.contact.text)
    pdf.paragraph(f"Numéro gratuit : {guide.contact.phone}", "B")
    pdf.paragraph(guide.contact.hours)
    return bytes(pdf.output())
