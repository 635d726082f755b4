"""Menus over the structured knowledge: the 11 models (/mohinh), the criteria (/tieuchi)."""

from __future__ import annotations

from bot.deps import Deps
from bot.messages import Button, Incoming, Reply, short_label
from bot.router import Router
from handlers.quoting import quote
from knowledge.catalog import FocusModel
from knowledge.documents import Section
from knowledge.quiz import strip_number

router = Router()

MODEL_PREFIX = "m"
CRITERIA_PREFIX = "t"
MODEL_LIST = f"{MODEL_PREFIX}:list"          # button data: the list of the 11 models
CRITERIA_ROOT = f"{CRITERIA_PREFIX}:root"    # button data: the top of the criteria
RELATED_QUOTE_CHARS = 280
MODEL_LABEL_CHARS = 32
SECTION_LABEL_CHARS = 40


@router.command("mohinh", "Xem 11 mô hình trọng tâm",
                help="Xem 11 mô hình trọng tâm (gõ /mohinh 6 để xem ngay mô hình số 6)")
async def list_models(msg: Incoming, deps: Deps) -> list[Reply]:
    """Xem 11 mô hình trọng tâm của Nghị quyết 05."""
    models = deps.knowledge.catalog.models
    chosen = _model_from_args(msg.args, models)
    if chosen:
        return [_model_card(chosen, deps)]
    lines = [f"Nghị quyết 05 triển khai {len(models)} mô hình trọng tâm:"]
    lines += [f"{m.number}. {m.title}" for m in models]
    lines.append("Bạn chọn một mô hình để xem văn bản nói gì về mô hình đó.")
    buttons = [model_button(m) for m in models]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return [Reply.with_buttons("\n".join(lines), *rows)]


def model_button(model: FocusModel) -> Button:
    return Button.shortened(model.title, f"{MODEL_PREFIX}:{model.number}", MODEL_LABEL_CHARS)


@router.button(MODEL_PREFIX)
async def on_model_button(msg: Incoming, deps: Deps) -> list[Reply]:
    """Button "m:<number>" or "m:list"."""
    payload = (msg.callback_data or "").partition(":")[2]
    if payload == "list":
        return await list_models(msg, deps)
    model = _model_from_args(payload, deps.knowledge.catalog.models)
    if model is None:
        return [Reply("Mình không tìm thấy mô hình này. Bạn gõ /mohinh để xem danh sách nhé.")]
    return [_model_card(model, deps)]


def _model_from_args(args: str, models: tuple[FocusModel, ...]) -> FocusModel | None:
    args = args.strip()
    if args.isdigit() and 1 <= int(args) <= len(models):
        return models[int(args) - 1]
    return next((m for m in models if args and m.matches(args)), None)


def _model_card(model: FocusModel, deps: Deps) -> Reply:
    total = len(deps.knowledge.catalog.models)
    parts = [f"Mô hình {model.number}/{total}: {model.title}"]
    if len(model.titles) > 1:
        others = "; ".join(f"«{t}»" for t in model.titles[1:])
        parts.append(f"Văn bản còn nêu mô hình này với tên: {others}.")
    mention_sections = sorted({p.section for p in model.mentions})
    parts.append("Văn bản nêu mô hình này tại: " + "; ".join(mention_sections) + ".")
    extra = [p for p in model.mentions if len(p.text) < 120]   # e.g. a caption naming the model
    parts += [quote(p) for p in extra]
    plan = deps.knowledge.catalog.models_plan
    if plan:
        parts.append("Cách triển khai các mô hình:\n" + quote(plan))
    if model.related:
        related = [f"📄 {p.section}\n«{_clip(p.text)}»" for p in model.related[:2]]
        parts.append("Tiêu chí liên quan (Bộ tiêu chí):\n" + "\n".join(related))
    nav = [Button("⬅️ 11 mô hình", MODEL_LIST)]
    return Reply.with_buttons("\n\n".join(parts), nav)


@router.command("tieuchi", "Xem bộ tiêu chí")
async def browse_criteria(msg: Incoming, deps: Deps) -> list[Reply]:
    """Xem bộ tiêu chí xây dựng Chủ nghĩa xã hội và con người xã hội chủ nghĩa."""
    return [_criteria_view(deps, None)]


@router.button(CRITERIA_PREFIX)
async def on_criteria_button(msg: Incoming, deps: Deps) -> list[Reply]:
    """Button "t:root" or "t:<section id>"."""
    payload = (msg.callback_data or "").partition(":")[2]
    return [_criteria_view(deps, None if payload == "root" else payload)]


def _criteria_view(deps: Deps, section_id: str | None) -> Reply:
    corpus = deps.knowledge.corpus
    doc = corpus.document(deps.knowledge.catalog.criteria_document)
    if doc is None:
        return Reply("Bộ tiêu chí chưa có trong cơ sở tri thức.")
    section = doc.root if section_id is None else doc.section(section_id)
    if section is None:
        return Reply.with_buttons(
            "Mục này không còn trong bộ tiêu chí. Bạn xem lại từ đầu nhé.",
            [Button("Bộ tiêu chí", CRITERIA_ROOT)],
        )
    trail = " › ".join(s.label for s in section.lineage() if s is not doc.root)
    body = [f"📚 {doc.short_title}" + (f" › {trail}" if trail else ""), doc.title if section is doc.root else section.heading]
    body += [f"• {block}" for block in section.blocks]
    # The document numbers its sections in order ("1.", "2.", …): a numbered
    # list shows the heading without that number, so it is not said twice.
    buttons = [
        Button.shortened(child.heading, f"{CRITERIA_PREFIX}:{doc.section_id(child)}", SECTION_LABEL_CHARS,
                         listed=strip_number(child.heading))
        for child in section.children
    ]
    if section.children:
        body.append("Chọn một mục để xem chi tiết:")
    back = _back_button(doc, section)
    rows = [[b] for b in buttons] + ([[back]] if back else [])
    return Reply.with_buttons("\n\n".join(body), *rows)


def _back_button(doc, section: Section) -> Button | None:
    if section is doc.root:
        return None
    parent = section.parent
    target = "root" if parent is None or parent is doc.root else doc.section_id(parent)
    return Button("⬅️ Quay lại", f"{CRITERIA_PREFIX}:{target}")


def _clip(text: str) -> str:
    """Cut a long quote at a word boundary, marked with "…" so it reads as cut."""
    return short_label(text, RELATED_QUOTE_CHARS)
