"""What the documents enumerate: a section's parts, its list items, lists written inline.

A question about what something comprises ("gồm những gì", "có mấy", "kể
tên") is answered from here, not from passages: passages are cut to phone
size, so a list can straddle two of them, and a heading's items are each in
a passage of their own. An enumeration is the whole list, verbatim, in the
source's order, with the source's own numbers ("1.", "(ii)") where it has
them. Three shapes occur:

- a heading's sub-headings (Phụ lục 1 › II: the eight criteria groups);
- a section's list items (II.8: the four "- ..." bullets);
- a list written inline in one paragraph, after a colon, items separated by
  semicolons (the 11 models: "gồm: “Chính quyền thân thiện”; “...”").
  A list that only gives examples ("như: a; b; c...") is not an enumeration.

Each item knows the button that opens it whole: a sub-heading opens its
section, a list item opens itself, an entry naming one of the 11 models
opens that model's page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.catalog import Catalog
from knowledge.documents import Corpus, Document, Section, section_label

MIN_ITEMS = 2
MIN_INLINE_ITEMS = 3
# "(i) Hạ tầng đồng bộ, hiện đại: Có hệ thống ..." names itself before the colon.
MAX_ITEM_NAME_CHARS = 60
MAX_BUTTON_DATA_BYTES = 64      # Telegram's limit on callback data

ITEM_PREFIX = "i"               # "i:<section id>:<n>": list item n of a section, whole
SECTION_PREFIX = "t"            # "t:<section id>": a section (handlers/browse.py)
MODEL_PREFIX = "m"              # "m:<number>": a model's page

_ROMAN_ITEM = re.compile(r"^\(([ivx]+)\)\s")
_HEADING_NUMBER = re.compile(r"^((?:[IVX]+|\d+)\.)\s")
_INLINE = re.compile(r"^(?P<intro>[^:]{12,}?:)\s*(?P<rest>.+)$")
_EXAMPLES_INTRO = re.compile(r"\b(như|ví dụ)\s*:$", re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    text: str        # verbatim
    name: str        # what the item is called: "(i) Hạ tầng đồng bộ, hiện đại", a heading, else the text
    marker: str      # the source's number ("1.", "(ii)", "II."), "" when it has none
    opens: str       # callback data of the button that shows it whole, "" when there is nothing more

    @property
    def named(self) -> bool:
        """True when the item's name is shorter than the item (a name, then a description)."""
        return self.name != self.text


@dataclass(frozen=True)
class Enumeration:
    id: str                          # "<section id>/parts", "/items" or "/inline<n>"
    doc_id: str
    section_id: str
    section_path: tuple[str, ...]    # as passages cite it, document first
    intro: str                       # verbatim lead-in: the heading, or the inline list's text up to ":"
    about: str                       # what is enumerated, for matching questions (may use editorial headings)
    items: tuple[Item, ...]
    shape: str                       # "parts", "items" or "inline"

    @property
    def section(self) -> str:
        return " › ".join(self.section_path)

    def grouped_items(self) -> list[list[Item]]:
        """Items that open the same thing, together (the housing model is listed under two names)."""
        groups: list[list[Item]] = []
        for item in self.items:
            if item.opens and groups and groups[-1][0].opens == item.opens:
                groups[-1].append(item)
            else:
                groups.append([item])
        return groups


def item_data(section_id: str, index: int) -> str:
    """Button data that shows list item ``index`` (0-based) of a section whole."""
    return f"{ITEM_PREFIX}:{section_id}:{index}"


def build_enumerations(corpus: Corpus, catalog: Catalog | None = None) -> list[Enumeration]:
    out: list[Enumeration] = []
    for doc in corpus.documents:
        for section in doc.sections():
            out.extend(_of_section(doc, section, catalog))
    return out


def _of_section(doc: Document, section: Section, catalog: Catalog | None) -> list[Enumeration]:
    sid = doc.section_id(section)
    lineage = [s for s in section.lineage() if s is not doc.root]
    path = (doc.short_title, *(s.label for s in lineage))
    heading = doc.title if section is doc.root else section.heading
    # Editorial headings name the topic for matching; they are never quoted.
    about = " ".join([*(s.label for s in lineage[:-1]), heading]) if heading else " ".join(path)
    quotable = "" if section.editorial else heading
    found: list[Enumeration] = []

    parts = [c for c in section.children if not c.editorial]
    if len(parts) >= MIN_ITEMS and quotable:
        items = tuple(Item(c.heading, c.heading, _marker(c.heading, _HEADING_NUMBER),
                           _fit(f"{SECTION_PREFIX}:{doc.section_id(c)}")) for c in parts)
        found.append(Enumeration(f"{sid}/parts", doc.id, sid, path, quotable, about, items, "parts"))

    bullets = section.bullets
    if len(bullets) >= MIN_ITEMS:
        named = _names(bullets)
        items = tuple(Item(text, name, _marker(text, _ROMAN_ITEM), _fit(item_data(sid, i)))
                      for i, (text, name) in enumerate(zip(bullets, named)))
        found.append(Enumeration(f"{sid}/items", doc.id, sid, path, quotable, about, items, "items"))

    for n, block in enumerate(section.blocks, 1):
        inline = _inline(block)
        if inline is None:
            continue
        intro, entries = inline
        items = tuple(Item(e, e, "", _opens_model(e, catalog)) for e in entries)
        found.append(Enumeration(f"{sid}/inline{n}", doc.id, sid, path, intro,
                                 f"{about} {intro}", items, "inline"))
    return found


def _marker(text: str, pattern: re.Pattern[str]) -> str:
    match = pattern.match(text)
    return match.group(0).strip() if match else ""


def _names(bullets: list[str]) -> list[str]:
    """"(i) Name: description" items are called by their name, when every item has one."""
    heads = [b.partition(":") for b in bullets]
    if all(sep and len(head) <= MAX_ITEM_NAME_CHARS for head, sep, _ in heads):
        return [head.strip() for head, _, _ in heads]
    return list(bullets)


def _inline(block: str) -> tuple[str, list[str]] | None:
    """(intro, entries) of a list written inline after a colon, or None."""
    match = _INLINE.match(block)
    if match is None:
        return None
    intro, rest = match.group("intro").strip(), match.group("rest").strip()
    entries = [e.strip() for e in rest.split(";")]
    if len(entries) < MIN_INLINE_ITEMS or any(not e for e in entries):
        return None
    # "như: a; b; c..." gives examples, not the whole list.
    if _EXAMPLES_INTRO.search(intro) or entries[-1].endswith(("...", "…")):
        return None
    entries[-1] = entries[-1].rstrip(" ./")
    return intro, entries


def _opens_model(entry: str, catalog: Catalog | None) -> str:
    """The model page an entry names exactly (by one of the model's titles), else ""."""
    if catalog is None:
        return ""
    bare = entry.strip(" “”\"'")
    model = next((m for m in catalog.models if bare in m.titles), None)
    return f"{MODEL_PREFIX}:{model.number}" if model else ""


def _fit(data: str) -> str:
    return data if len(data.encode()) <= MAX_BUTTON_DATA_BYTES else ""


def short_name(item: Item, limit: int = 40) -> str:
    """A button label for an item: its name without "3." in front (platforms without buttons
    number the choices themselves), cut at a word boundary when long."""
    name = item.name[len(item.marker):].strip() if item.marker[:1].isdigit() else item.name
    return section_label(name) if len(name) > limit else name
