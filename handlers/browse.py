"""Menus over the structured knowledge: the 11 models (/mohinh), the criteria (/tieuchi),
any section of a document, and a model's page.

A model page leads with what the sources say about the model itself (the
sentences that name it, verbatim), then the few criteria that relate to it
by content, each whole and cited. How the models will be carried out
("Tổ chức thực hiện") is shared by all eleven, so it is one tap away rather
than repeated on every page.
"""

from __future__ import annotations

from bot.deps import Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from handlers.context import ChatContext, remember
from handlers.forms import in_place
from handlers.quoting import quote_text, sentences
from knowledge.base import KnowledgeBase
from knowledge.catalog import FocusModel
from knowledge.documents import Document, Passage, Section
from knowledge.quiz import strip_number
from vntext.normalize import fold

router = Router()

MODEL_PREFIX = "m"
CRITERIA_PREFIX = "t"
# The browsers' own menus (the list, a model page, a section of the criteria)
# move by buttons with these prefixes, which change the menu in place where
# the platform can edit (Telegram); the same data under "m"/"t" (from an
# answer, say) opens the page as a new message.
MODEL_NAV = "mv"
CRITERIA_NAV = "tv"
MODEL_LIST = f"{MODEL_NAV}:list"             # button data: the list of the 11 models
CRITERIA_ROOT = f"{CRITERIA_NAV}:root"       # button data: the top of the criteria
MODEL_LABEL_CHARS = 32
SECTION_LABEL_CHARS = 40
RELATED_LIMIT = 3
GONE = "Mục này không còn trong cơ sở tri thức. Bạn gõ lại câu hỏi giúp mình nhé."
PLAN_LABEL = "🛠 Cách triển khai các mô hình"
NOTHING_SPECIFIC = ("Ngoài tên mô hình, văn bản chưa nêu nội dung riêng của mô hình này; các đề án cụ thể "
                    "hóa 11 mô hình sẽ được xây dựng và triển khai sau (xem cách triển khai).")


@router.command("mohinh", "Xem 11 mô hình trọng tâm",
                help="Xem 11 mô hình trọng tâm (gõ /mohinh 6 để xem ngay mô hình số 6)")
async def list_models(msg: Incoming, turn: Turn) -> list[Reply]:
    """Xem 11 mô hình trọng tâm của Nghị quyết 05."""
    models = turn.deps.knowledge.catalog.models
    chosen = _model_from_args(msg.args, models)
    if chosen:
        await remember(msg, turn.deps, model_context(turn.deps.knowledge, chosen.number))
        return [model_card(chosen, turn.deps.knowledge)]
    lines = [f"Nghị quyết 05 triển khai {len(models)} mô hình trọng tâm:"]
    lines += [f"{m.number}. {m.title}" for m in models]
    lines.append("Bạn chọn một mô hình để xem văn bản nói gì về mô hình đó.")
    buttons = [model_button(m, MODEL_NAV) for m in models]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await remember(msg, turn.deps, model_context(turn.deps.knowledge, None))
    return [Reply.with_buttons("\n".join(lines), *rows)]


def model_button(model: FocusModel, prefix: str = MODEL_PREFIX) -> Button:
    return Button.shortened(model.title, f"{prefix}:{model.number}", MODEL_LABEL_CHARS)


@router.button(MODEL_PREFIX)
async def on_model_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "m:<number>" or "m:list"."""
    payload = (msg.callback_data or "").partition(":")[2]
    if payload == "list":
        return await list_models(msg, turn)
    model = _model_from_args(payload, turn.deps.knowledge.catalog.models)
    if model is None:
        return [Reply("Mình không tìm thấy mô hình này. Bạn gõ /mohinh để xem danh sách nhé.")]
    await remember(msg, turn.deps, model_context(turn.deps.knowledge, model.number))
    return [model_card(model, turn.deps.knowledge)]


@router.button(MODEL_NAV)
async def on_model_menu(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "mv:<number>" or "mv:list": as "m:…", in place of the tapped menu."""
    return in_place(await on_model_button(msg, turn))


def _model_from_args(args: str, models: tuple[FocusModel, ...]) -> FocusModel | None:
    args = args.strip()
    if args.isdigit() and 1 <= int(args) <= len(models):
        return models[int(args) - 1]
    return next((m for m in models if args and m.matches(args)), None)


def model_context(knowledge: KnowledgeBase, number: int | None) -> ChatContext:
    """The list of the 11 models, and the one shown (for "mô hình tiếp theo")."""
    listing = next((e for e in knowledge.enumerations
                    if e.items and all(i.opens.startswith(f"{MODEL_PREFIX}:") for i in e.items)), None)
    if listing is None:
        return ChatContext("model")
    index = next((i for i, item in enumerate(listing.items) if item.opens == f"{MODEL_PREFIX}:{number}"), None)
    return ChatContext("model" if index is not None else "list", listing.section_id, listing.id, index)


def model_card(model: FocusModel, knowledge: KnowledgeBase) -> Reply:
    total = len(knowledge.catalog.models)
    parts = [f"Mô hình {model.number}/{total}: {model.title}"]
    if len(model.titles) > 1:
        others = "; ".join(f"«{t}»" for t in model.titles[1:])
        parts.append(f"Văn bản còn nêu mô hình này với tên: {others}.")
    parts.extend(_what_the_text_says(model, knowledge))
    related: dict[str, list[str]] = {}
    for section, text in _related(model, knowledge):
        related.setdefault(section, []).append(f"«{text}»")
    if related:
        parts.append("Tiêu chí liên quan trong Bộ tiêu chí:\n\n" + "\n\n".join(
            f"📄 {section}\n" + "\n".join(texts) for section, texts in related.items()))
    plan = knowledge.catalog.models_plan
    plan_row = [Button(PLAN_LABEL, f"{CRITERIA_NAV}:{plan.id.rsplit('.', 1)[0]}")] if plan else []
    return Reply.with_buttons("\n\n".join(parts), plan_row, [Button("⬅️ 11 mô hình", MODEL_LIST)])


def _what_the_text_says(model: FocusModel, knowledge: KnowledgeBase) -> list[str]:
    """The sentences of the sources that name the model, each quoted once, with where they are.

    A sentence naming several models (the list of all eleven, or "such as:
    a; b; c") is about the list, not this model: it is summed up in one line
    (/mohinh shows the list) instead of being quoted on every page.
    """
    names = [fold(n) for n in (*model.titles, *model.aliases)]
    listed, said = False, {}
    for section_path, block in _blocks_naming(model, knowledge):
        for sentence in sentences(block):
            folded = fold(sentence)
            if not any(n in folded for n in names):
                continue
            if _models_named(folded, knowledge) >= 3:
                listed = True
            elif sentence not in said.get(section_path, []):
                said.setdefault(section_path, []).append(sentence)
    lines = []
    if listed or said:
        listing = next((e for e in knowledge.enumerations
                        if any(i.opens == f"{MODEL_PREFIX}:{model.number}" for i in e.items)), None)
        where = listing.section if listing else model.mentions[0].section
        lines.append(f"Đây là mô hình thứ {model.number} trong {len(knowledge.catalog.models)} mô hình "
                     f"trọng tâm mà Nghị quyết 05 triển khai (📄 {where}).")
    # One location line per section, not one per sentence.
    lines += [quote_text(section, " ".join(quoted)) for section, quoted in said.items()]
    if not said:
        lines.append(NOTHING_SPECIFIC)
    return lines


def _blocks_naming(model: FocusModel, knowledge: KnowledgeBase) -> list[tuple[str, str]]:
    """Whole paragraphs (a passage may be part of one) of the sections where the model is named."""
    out: list[tuple[str, str]] = []
    for passage in model.mentions:
        section_id = passage.id.rsplit(".", 1)[0]
        found = _find(knowledge, section_id) if "." in section_id else None
        doc = knowledge.corpus.document(passage.doc_id)
        section = found[1] if found else (doc.root if doc else None)
        if section is None:
            continue
        for block in section.blocks:
            entry = (passage.section, block)
            if entry not in out:
                out.append(entry)
    return out


def _models_named(folded: str, knowledge: KnowledgeBase) -> int:
    return sum(any(fold(n) in folded for n in (*m.titles[:1], *m.aliases[:1])) for m in knowledge.catalog.models)


def _related(model: FocusModel, knowledge: KnowledgeBase) -> list[tuple[str, str]]:
    """The model's related criteria, each as its whole list item (a passage may hold only part of one)."""
    out: list[tuple[str, str]] = []
    for passage in model.related:
        whole = _whole_item(passage, knowledge)
        if whole not in out:
            out.append(whole)
        if len(out) == RELATED_LIMIT:
            break
    return out


def _whole_item(passage: Passage, knowledge: KnowledgeBase) -> tuple[str, str]:
    body = passage.text.split("\n", 1)[-1]
    for enumeration in knowledge.enumerations:
        if enumeration.shape != "items":
            continue
        for item in enumeration.items:
            if body[:80] in item.text or item.text in body:
                return enumeration.section, item.text
    return passage.section, passage.text


@router.command("tieuchi", "Xem bộ tiêu chí")
async def browse_criteria(msg: Incoming, turn: Turn) -> list[Reply]:
    """Xem bộ tiêu chí xây dựng Chủ nghĩa xã hội và con người xã hội chủ nghĩa."""
    return [section_view(turn.deps.knowledge, None)]


@router.button(CRITERIA_PREFIX)
async def on_criteria_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "t:root" or "t:<section id>": a section of any document; a criteria group
    comes as its list, each item a button (the same reply a follow-up gets)."""
    from handlers.qa import conversation_of

    payload = (msg.callback_data or "").partition(":")[2]
    if payload == "root" or _find(turn.deps.knowledge, payload) is None:
        return [section_view(turn.deps.knowledge, None if payload == "root" else payload)]
    response = conversation_of(turn.deps).open_section(payload)
    await remember(msg, turn.deps, response.context)
    return [response.reply]


@router.button(CRITERIA_NAV)
async def on_criteria_menu(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "tv:root" or "tv:<section id>": as "t:…", in place of the tapped menu."""
    return in_place(await on_criteria_button(msg, turn))


def _find(knowledge: KnowledgeBase, section_id: str) -> tuple[Document, Section] | None:
    doc = knowledge.corpus.document(section_id.split(".", 1)[0])
    section = doc.section(section_id) if doc else None
    return (doc, section) if section is not None else None


def section_view(knowledge: KnowledgeBase, section_id: str | None) -> Reply:
    """A section verbatim (its heading, its paragraphs and list items), its sub-sections as buttons."""
    if section_id is None:
        doc = knowledge.corpus.document(knowledge.catalog.criteria_document)
        if doc is None:
            return Reply("Bộ tiêu chí chưa có trong cơ sở tri thức.")
        section = doc.root
    else:
        found = _find(knowledge, section_id)
        if found is None:
            return Reply.with_buttons(
                "Mục này không còn trong văn bản. Bạn xem lại từ đầu nhé.",
                [Button("Bộ tiêu chí", CRITERIA_ROOT)],
            )
        doc, section = found
    trail = " › ".join(s.label for s in section.lineage() if s is not doc.root)
    body = [f"📚 {doc.short_title}" + (f" › {trail}" if trail else "")]
    if section is doc.root:
        body.append(doc.title)
    elif not section.editorial:
        body.append(section.heading)
    body += [f"• {block}" for block in section.blocks]
    # The document numbers its sections in order ("1.", "2.", …): a numbered
    # list shows the heading without that number, so it is not said twice.
    buttons = [
        Button.shortened(child.heading, f"{CRITERIA_NAV}:{doc.section_id(child)}", SECTION_LABEL_CHARS,
                         listed=strip_number(child.heading))
        for child in section.children
    ]
    if section.children:
        body.append("Chọn một mục để xem chi tiết:")
    back = _back_button(doc, section, knowledge.catalog.criteria_document)
    rows = [[b] for b in buttons] + ([[back]] if back else [])
    return Reply.with_buttons("\n\n".join(body), *rows)


def back_row(knowledge: KnowledgeBase, section_id: str) -> list[Button]:
    found = _find(knowledge, section_id)
    back = _back_button(found[0], found[1], knowledge.catalog.criteria_document) if found else None
    return [back] if back else []


def _back_button(doc: Document, section: Section, criteria_document: str) -> Button | None:
    if section is doc.root:
        return None
    parent = section.parent
    if parent is not None and parent is not doc.root:
        return Button("⬅️ Quay lại", f"{CRITERIA_NAV}:{doc.section_id(parent)}")
    # The top of the criteria is /tieuchi; other documents have no menu of their own.
    return Button("⬅️ Quay lại", CRITERIA_ROOT) if doc.id == criteria_document else None
