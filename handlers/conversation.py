"""What the bot says to a message: one understanding for the chat and for `civicbot ask`.

`respond` reads the message (handlers/intents.py) and answers like a
well-informed ward official who only ever quotes the documents:

- small talk ("xin chào", "cảm ơn", "ok", "bạn là ai") → a short, warm reply and the menu;
- a question about the bot ("làm sao để góp ý?") → the command that does it, with its button;
- a follow-up ("còn nhóm 3 thì sao?", "nói rõ hơn", "tiêu chí tiếp theo") → resolved against
  the section of the chat's last answer (`ChatContext`);
- a question asking for a list ("gồm những gì", "có mấy", "kể tên") → the whole enumeration,
  verbatim (handlers/lists.py);
- a question the text answers → the passage(s), verbatim, a long one led by the sentence
  that carries the answer;
- anything else → an honest decline: what the bot knows, the nearest topics, and (in the
  chat) an offer to send the question to officials.

`confident` is true only when the reply quotes the text as an answer. The
chat adds what needs storage (rating buttons, the send-to-officials button,
the stored context); `civicbot ask` prints the same reply as JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.messages import Button, Reply
from handlers import browse
from handlers.context import ChatContext
from handlers.forms import too_long
from handlers.intents import FollowUp, ListAsk, Reading, marker_number, read
from handlers.lists import ListFinder, list_buttons, list_reply
from handlers.quoting import LeadPicker, quote, quote_text
from knowledge.base import KnowledgeBase
from knowledge.documents import Passage, Section
from knowledge.quiz import strip_number
from knowledge.enumerations import ITEM_PREFIX, MODEL_PREFIX, SECTION_PREFIX, Enumeration, item_data
from retrieval.searcher import Hit, SearchResult
from vntext.normalize import fold, has_diacritics, is_mostly_letters

MAX_QUESTION_CHARS = 1000
# A second passage is quoted too when it scores nearly as well as the first.
SECOND_QUOTE_RATIO = 0.9
# A question that names a whole criteria group, and nothing else, gets the whole group.
SECTION_MATCH = 0.99
SECTION_MAX_WORDS = 10

EMPTY = (
    "Bạn chưa nhập câu hỏi. Hãy gõ điều bạn muốn biết về Nghị quyết 05, "
    "ví dụ: 11 mô hình trọng tâm là gì?"
)
NOT_TEXT = (
    "Mình chưa hiểu tin nhắn này. Bạn hãy gõ câu hỏi bằng chữ, ví dụ: "
    "Tiêu chí con người xã hội chủ nghĩa gồm những gì?"
)
NUMBER_ONLY = (
    "Số này không ứng với lựa chọn nào đang mở. Bạn chọn một số trong danh sách gần nhất, "
    "hoặc gõ câu hỏi bằng chữ nhé."
)

ANSWER_LEAD = "Theo văn bản:"
READ_WHOLE = "📖 Đọc cả đoạn"

DECLINE = (
    "Xin lỗi, văn bản mình có chưa đề cập đến điều bạn hỏi, nên mình không trả lời để tránh đưa "
    "thông tin không chính xác."
)
WHAT_I_KNOW = (
    "Mình chỉ trả lời theo Nghị quyết 05 của Thành ủy Hải Phòng (mục tiêu, 11 mô hình trọng tâm, "
    "cách tổ chức thực hiện) và Bộ tiêu chí xây dựng Chủ nghĩa xã hội gắn với con người "
    "Xã hội chủ nghĩa (Phụ lục 1)."
)
NEAREST = "Phần gần nhất trong văn bản: {topics}."
FORWARD_OFFER = "Nếu muốn, bạn có thể gửi câu hỏi này tới cán bộ phụ trách để được giải đáp."
ENGLISH_NOTE = "(Sorry, I can only answer questions in Vietnamese about Hải Phòng's Resolution 05.)"
MENUS = "Bạn cũng có thể xem 11 mô hình trọng tâm (/mohinh) hoặc bộ tiêu chí (/tieuchi)."
# Why a question is declined, when the kind of fact it asks for is nowhere in the text.
REASONS = {
    "money": "Văn bản không nêu số tiền, mức phí hay giá cả nào.",
    "clock": "Văn bản không nêu giờ giấc, lịch làm việc hay lịch cụ thể nào.",
    "contact": "Văn bản không có số điện thoại, địa chỉ hay trang liên hệ nào.",
    "person": "Văn bản không nêu tên người giữ chức vụ nào.",
    "place": "Văn bản chỉ nói về thành phố Hải Phòng.",
    "procedure": "Văn bản không hướng dẫn thủ tục hành chính, hồ sơ hay giấy tờ.",
    "everyday": "Văn bản không nói về thời tiết, thể thao, tuyển dụng, mua bán hay những tin tức hằng ngày như vậy.",
    "locality": "Văn bản không nêu tên phường, xã hay quận, huyện cụ thể nào.",
    "document": "Văn bản mình có chỉ gồm Nghị quyết 05 và Bộ tiêu chí kèm theo, không có nghị quyết, "
                "luật hay văn bản nào khác.",
}

NO_CONTEXT = (
    "Bạn muốn hỏi tiếp về nội dung nào? Bạn cứ hỏi đầy đủ, ví dụ: "
    "Nhóm tiêu chí số 3 của Bộ tiêu chí Chủ nghĩa xã hội là gì?"
)
NO_SUCH_ITEM = "Mục {number} không có trong {where}. Bạn chọn một mục trong danh sách nhé."
NOTHING_MORE = "Đó là toàn bộ nội dung văn bản nêu ở mục này. Bạn có thể xem các mục khác:"
LAST_ITEM = "Đây đã là mục cuối của danh sách."
FIRST_ITEM = "Đây đã là mục đầu của danh sách."

SMALL_TALK = {
    "greeting": "Chào bạn! 👋 Mình là trợ lý hỏi đáp về Nghị quyết 05 của Thành ủy Hải Phòng. "
                "Bạn muốn tìm hiểu điều gì? Chẳng hạn: 11 mô hình trọng tâm gồm những gì?",
    "thanks": "Không có gì ạ! Bạn cần tìm hiểu thêm điều gì về Nghị quyết 05 cứ nhắn mình nhé. 😊",
    "goodbye": "Tạm biệt bạn! Khi cần tìm hiểu Nghị quyết 05, bạn cứ quay lại nhắn mình nhé. 👋",
    "ack": "Dạ. Bạn cần hỏi thêm gì về Nghị quyết 05 cứ nhắn mình nhé.",
    "praise": "Cảm ơn bạn nhiều! 😊 Bạn cần tìm hiểu thêm điều gì cứ hỏi mình nhé.",
    "laugh": "😄 Bạn cần hỏi gì thêm về Nghị quyết 05 cứ nhắn mình nhé.",
    "call": "Mình đây! Bạn muốn hỏi gì về Nghị quyết 05?",
    "identity": "Mình là trợ lý tự động (chatbot) giúp người dân tìm hiểu Nghị quyết 05 của Thành ủy "
                "Hải Phòng và Bộ tiêu chí kèm theo. Mình trả lời bằng cách trích nguyên văn văn bản "
                "và ghi rõ mục, không tự đặt ra thông tin.",
    "personal": "Cảm ơn bạn đã hỏi thăm! Mình là chatbot nên lúc nào cũng sẵn sàng. "
                "Bạn muốn tìm hiểu điều gì về Nghị quyết 05?",
}

# What to say about each command, and the label of the button that runs it.
BOT_COMMANDS = {
    "gopy": ("Bạn có thể gửi góp ý về Nghị quyết 05 và các mô hình bằng lệnh /gopy: bạn viết ý kiến, "
             "chọn chủ đề, rồi mình chuyển tới cán bộ phụ trách.", "✍️ Gửi góp ý"),
    "dangky": ("Để nhận thông báo của phường/xã, bạn dùng lệnh /dangky: chọn phường/xã và nhóm "
               "(cư dân, đoàn viên, cán bộ) là xong. Khi muốn ngừng, bạn gõ /huy.", "🔔 Đăng ký nhận tin"),
    "huy": ("Để ngừng nhận thông báo, bạn gõ /huy. Lệnh này cũng hủy thao tác đang làm dở "
            "(ví dụ góp ý đang viết).", "🔕 Ngừng nhận tin"),
    "quiz": ("Có ạ! Lệnh /quiz mở một lượt đố vui 10 câu về bộ tiêu chí và 11 mô hình; "
             "xem thứ hạng bằng /bangxephang.", "🎯 Chơi đố vui"),
    "bangxephang": ("Bảng xếp hạng đố vui (thành viên, chi đoàn, phường/xã) xem bằng lệnh /bangxephang.",
                    "🏆 Xem bảng xếp hạng"),
    "quyenriengtu": ("Lệnh /quyenriengtu cho biết mình lưu gì về bạn, để làm gì, và xóa thế nào.",
                     "🔒 Quyền riêng tư"),
    "xoadulieu": ("Bạn có thể xóa toàn bộ dữ liệu mình lưu về bạn bằng lệnh /xoadulieu; "
                  "mình sẽ hỏi lại để bạn xác nhận trước khi xóa.", "🗑 Xóa dữ liệu của tôi"),
    "help": ("", "📋 Hướng dẫn"),
}
HELP_INTRO = "Mình trả lời câu hỏi về Nghị quyết 05 bằng cách trích nguyên văn. Các lệnh bạn có thể dùng:"
HELP_OUTRO = ("Hoặc gõ thẳng câu hỏi, ví dụ: Tiêu chí con người xã hội chủ nghĩa gồm những gì? "
              "Gõ /help bất cứ lúc nào để xem lại hướng dẫn này.")
COMMAND_PREFIX = "cmd"

_ENGLISH_HINTS = frozenset("the what who how is are was were do does did of and you your which when where why".split())


# "⬅️ Ý trước" / "Ý tiếp ➡️": the neighbouring item, turning the page in place where the
# platform can edit (handlers/qa.py); "i:…" opens an item as a new message.
ITEM_PAGE_PREFIX = "iv"


def page_data(section_id: str, index: int) -> str:
    return item_data(section_id, index).replace(ITEM_PREFIX, ITEM_PAGE_PREFIX, 1)


def command_button(name: str) -> Button:
    return Button(BOT_COMMANDS[name][1], f"{COMMAND_PREFIX}:{name}")


def menu_buttons() -> list[list[Button]]:
    return [
        [Button("11 mô hình", f"{MODEL_PREFIX}:list"), Button("Bộ tiêu chí", f"{SECTION_PREFIX}:root")],
        [command_button("quiz"), command_button("help")],
    ]


@dataclass(frozen=True)
class Response:
    # "answer", "list", "follow_up", "decline", "small_talk", "bot_help", "notice" (a note on a
    # follow-up: nothing before it, no such item...), "problem" (input that is not a question)
    kind: str
    reply: Reply
    confident: bool = False
    result: SearchResult | None = None
    shown: tuple[Passage, ...] = ()          # passages the reply quotes, best first
    context: ChatContext | None = None       # what a follow-up may refer to next; None: unchanged
    reason: str = ""                         # why a question was declined, when known

    @property
    def logged(self) -> bool:
        """Answers and declines go to the answer log (declines to the question inbox too)."""
        return self.kind in ("answer", "list", "follow_up", "decline")

    @property
    def text(self) -> str:
        return self.reply.text


Search = Callable[[str], Awaitable[SearchResult]]
Recall = Callable[[], Awaitable[ChatContext | None]]


class Conversation:
    """Everything `respond` needs that is built once: the knowledge and its indexes."""

    def __init__(self, knowledge: KnowledgeBase, help_lines: Sequence[str] = (),
                 referral_line: str = ""):
        self.knowledge = knowledge
        self.lists = ListFinder(knowledge)
        self.leads = LeadPicker(knowledge.corpus)
        self.help_lines = tuple(help_lines)      # "/gopy – …", one per command, shown by /help
        self.referral_line = referral_line.strip()
        self._passages = knowledge.corpus.by_id()

    # -- the one entry point ----------------------------------------------------------

    async def respond(self, text: str, search: Search, recall: Recall | None = None,
                      search_ahead: SearchResult | None = None, can_forward: bool = False) -> Response:
        """The reply to ``text``. ``recall`` loads the chat's context (only for a follow-up);
        ``search_ahead`` is a search of ``text`` already started; ``can_forward``: the chat
        can send a declined question on to officials."""
        reading = read(text)
        if reading.small_talk is not None:
            return self.small_talk(reading.small_talk.kind)
        if reading.follow_up is not None and reading.command is None:    # "ý 2" is short but means something
            context = await recall() if recall is not None else None
            followed = self.follow(reading, reading.follow_up, context)
            if followed is not None:
                return followed
        problem = problem_with(reading.text)
        if problem:
            return Response("problem", Reply(problem))
        if reading.command is not None:
            return self.bot_help(reading.command)
        result = search_ahead if _same_question(search_ahead, reading) else await search(reading.question)
        if reading.list_ask is not None:
            match = self.lists.find(reading.list_ask)
            if match is not None:
                return self.list_answer(match.enumeration, reading.list_ask, result)
        if result.confident and result.hits:
            whole = self._whole_section(reading, result)
            if whole is not None:
                return self.list_answer(whole, None, result)
            return self.answer(reading, result)
        return self.decline(result, can_forward)

    # -- small talk and questions about the bot -----------------------------------------

    def small_talk(self, kind: str) -> Response:
        return Response("small_talk", Reply.with_buttons(SMALL_TALK[kind], *menu_buttons()))

    def bot_help(self, command: str) -> Response:
        if command == "help":
            return Response("bot_help", self.help_reply())
        text, _ = BOT_COMMANDS[command]
        return Response("bot_help", Reply.with_buttons(text, [command_button(command)]))

    def help_reply(self) -> Reply:
        lines = [HELP_INTRO, *self.help_lines, HELP_OUTRO]
        return Reply.with_buttons("\n".join(lines), *menu_buttons()[:1])

    # -- answers ----------------------------------------------------------------------

    def answer(self, reading: Reading, result: SearchResult) -> Response:
        hits = result.hits
        shown = [hits[0].passage]
        if len(hits) > 1 and hits[1].score >= SECOND_QUOTE_RATIO * hits[0].score:
            shown.append(hits[1].passage)
        parts, read_whole = [ANSWER_LEAD], []
        for passage in shown:
            lead = self.leads.lead(passage, result.normalised or reading.question)
            if lead:
                parts.append(quote_text(passage.section, " ".join(lead)))
                read_whole.append(Button(READ_WHOLE, f"p:{passage.id}"))
            else:
                parts.append(quote(passage))
        first = shown[0]
        context = ChatContext("passage", section_of(first), passage_id=first.id)
        reply = Reply.with_buttons("\n\n".join(parts), read_whole[:1])
        return Response("answer", reply, True, result, tuple(shown), context)

    def list_answer(self, enumeration: Enumeration, ask: ListAsk | None, result: SearchResult | None) -> Response:
        shown = tuple(self._passages_of(enumeration.section_id))
        context = ChatContext("list", enumeration.section_id, enumeration.id, list_question=ask is not None,
                              noun=ask.noun if ask else "")
        return Response("list", list_reply(enumeration, ask), True, result, shown, context)

    def _whole_section(self, reading: Reading, result: SearchResult) -> Enumeration | None:
        """A question that only names a criteria group ("tiêu chí quốc phòng an ninh") gets all of it."""
        if len(reading.question.split()) > SECTION_MAX_WORDS:
            return None
        match = self.lists.find(ListAsk(False, "", " ".join(fold(reading.question).split())))
        if match is None or match.score < SECTION_MATCH or match.enumeration.shape != "items":
            return None
        sections = {section_of(h.passage) for h in result.hits[:3]}
        return match.enumeration if match.enumeration.section_id in sections else None

    # -- declines ---------------------------------------------------------------------

    def decline(self, result: SearchResult, can_forward: bool) -> Response:
        """What the bot knows, why not this, the nearest topics, and where to ask instead."""
        parts = [" ".join(p for p in (DECLINE, REASONS.get(result.reason, ""), WHAT_I_KNOW) if p)]
        if _looks_english(result.question):
            parts.append(ENGLISH_NOTE)
        nearest = _nearest_sections(result.hits)
        if nearest:
            parts.append(NEAREST.format(topics="; ".join(p.section_path[-1] for p in nearest)))
        parts.append(" ".join(p for p in (FORWARD_OFFER if can_forward else "", self.referral_line) if p))
        parts.append(MENUS)
        topics = [[Button.shortened(f"📄 {p.section_path[-1]}", f"p:{p.id}", 64,
                                     listed=f"📄 {strip_number(p.section_path[-1])}")] for p in nearest]
        reply = Reply.with_buttons("\n\n".join(p for p in parts if p), *topics)
        return Response("decline", reply, False, result, reason=result.reason)

    # -- follow-ups ---------------------------------------------------------------------

    def follow(self, reading: Reading, move: FollowUp, context: ChatContext | None) -> Response | None:
        """The reply to a follow-up, or None when the message is better read as a new question."""
        if move.move == "topic":
            if context is None or not context.list_question:
                return None
            ask = ListAsk(False, context.noun, move.topic)
            match = self.lists.find(ask)
            return self.list_answer(match.enumeration, ask, None) if match else None
        if move.move == "item" and move.level == "model":
            return self.open_model(move.number)
        if context is None:
            if move.move == "item" and len(reading.question.split()) > 3:
                return None          # "nhóm 3 nói về gì?" with nothing before: a question of its own
            return Response("notice", Reply.with_buttons(NO_CONTEXT, *menu_buttons()[:1]))
        if move.move == "item":
            response = self._numbered(move, context)
        elif move.move in ("next", "previous"):
            response = self._step(1 if move.move == "next" else -1, move, context)
        else:
            response = self._more(context)
        if response.context is not None and context.list_question:
            # Still within a list question: "còn X thì sao?" asks for X's list next.
            response = replace(response, context=replace(response.context, list_question=True, noun=context.noun))
        return response

    def _numbered(self, move: FollowUp, context: ChatContext) -> Response:
        for enumeration in self._candidates(move.level, context):
            for index, item in enumerate(enumeration.items):
                number = marker_number(item.marker) if item.marker else index + 1
                if number == move.number:
                    return self.open_item(enumeration, index)
        where = "danh sách vừa rồi"
        return Response("notice", Reply(NO_SUCH_ITEM.format(number=move.number, where=where)))

    def _candidates(self, level: str, context: ChatContext) -> list[Enumeration]:
        """Lists a numbered reference may point into, nearest first, by the level it names."""
        shown = self.knowledge.enumeration(context.enumeration_id)
        section_id = context.section_id
        parent_id = section_id.rsplit(".", 1)[0] if "." in section_id else ""
        doc_id = section_id.split(".", 1)[0]

        def of(sid: str, shape: str) -> list[Enumeration]:
            return [e for e in self.knowledge.enumerations if e.section_id == sid and e.shape == shape]

        by_level = {
            "item": [*([shown] if shown and shown.shape != "parts" else []), *of(section_id, "items"),
                     *of(section_id, "inline")],
            "group": [*([shown] if shown and shown.shape == "parts" else []), *of(parent_id, "parts"),
                      *of(section_id, "parts")],
            "part": of(doc_id, "parts"),
        }
        ordered = by_level.get(level) or [*([shown] if shown else []), *of(section_id, "items"),
                                          *of(parent_id, "parts"), *of(section_id, "parts")]
        seen, out = set(), []
        for e in ordered:
            if e.id not in seen:
                seen.add(e.id)
                out.append(e)
        return out

    def _step(self, step: int, move: FollowUp, context: ChatContext) -> Response:
        """"Tiếp theo" / "cái trước": the neighbouring item of the list shown, or the
        neighbouring criteria group ("tiêu chí tiếp theo" after a group's list)."""
        shown = self.knowledge.enumeration(context.enumeration_id)
        if shown is not None and context.item is not None and move.level not in ("group", "part"):
            return self._neighbour(shown, context.item + step, step)
        parent_id = context.section_id.rsplit(".", 1)[0] if "." in context.section_id else ""
        for parts in (e for e in self.knowledge.enumerations if e.section_id == parent_id and e.shape == "parts"):
            ids = [item.opens.partition(":")[2] for item in parts.items]
            if context.section_id in ids:
                return self._neighbour(parts, ids.index(context.section_id) + step, step)
        if shown is not None and context.item is not None:
            return self._neighbour(shown, context.item + step, step)
        return Response("notice", Reply.with_buttons(NO_CONTEXT, *menu_buttons()[:1]))

    def _neighbour(self, enumeration: Enumeration, index: int, step: int) -> Response:
        if 0 <= index < len(enumeration.items):
            return self.open_item(enumeration, index)
        return Response("notice", Reply.with_buttons(LAST_ITEM if step > 0 else FIRST_ITEM,
                                                     *browse_list_button(enumeration)))

    def _more(self, context: ChatContext) -> Response:
        """"Nói rõ hơn": the whole section behind the last answer, verbatim."""
        shown = self.knowledge.enumeration(context.enumeration_id)
        if context.kind in ("list", "section") and shown is not None:
            if any(item.named for item in shown.items):
                return self._full_items(shown)
            return Response("notice", Reply.with_buttons(NOTHING_MORE, *_item_rows(shown)))
        if context.kind == "model" and shown is not None and context.item is not None:
            return self.open_model(context.item + 1)
        return self.open_section(context.section_id, focus=context.passage_id)

    def _full_items(self, enumeration: Enumeration) -> Response:
        lines = [f"📄 {enumeration.section}"]
        lines += [f"«{item.text}»" for item in enumeration.items]
        context = ChatContext("list", enumeration.section_id, enumeration.id)
        return Response("follow_up", Reply.with_buttons("\n\n".join(lines), *_item_rows(enumeration)), True,
                        shown=tuple(self._passages_of(enumeration.section_id)), context=context)

    # -- opening things -------------------------------------------------------------------

    def open_item(self, enumeration: Enumeration, index: int) -> Response:
        item = enumeration.items[index]
        prefix, _, target = item.opens.partition(":")
        if prefix == MODEL_PREFIX:
            response = self.open_model(int(target))
        elif prefix == SECTION_PREFIX:
            response = self.open_section(target)
        else:
            response = self.show_list_item(enumeration.section_id, index)
        if response.context is not None:
            response = replace(response, context=replace(response.context, enumeration_id=enumeration.id,
                                                          item=index))
        return response

    def show_list_item(self, section_id: str, index: int) -> Response:
        """One list item of a section, whole and verbatim, with the way to its neighbours."""
        found = self._section(section_id)
        items = self._items_of(section_id)
        if found is None or items is None or not 0 <= index < len(items.items):
            return Response("notice", Reply(browse.GONE))
        item = items.items[index]
        nav = []
        if index > 0:
            nav.append(Button("⬅️ Ý trước", page_data(section_id, index - 1)))
        if index + 1 < len(items.items):
            nav.append(Button("Ý tiếp ➡️", page_data(section_id, index + 1)))
        reply = Reply.with_buttons(quote_text(items.section, item.text), nav, *browse_list_button(items))
        context = ChatContext("item", section_id, items.id, index)
        return Response("follow_up", reply, True, shown=tuple(self._passages_of(section_id, item.text)),
                        context=context)

    def open_section(self, section_id: str, focus: str = "") -> Response:
        """A section: its list when it has one (a criteria group), else its text, verbatim."""
        items = self._items_of(section_id)
        if items is not None:
            response = self.list_answer(items, None, None)
            reply = response.reply
            back = browse.back_row(self.knowledge, section_id)
            if back:
                reply = replace(reply, buttons=(*reply.buttons, tuple(back)))
            return replace(response, kind="follow_up", reply=reply,
                           context=replace(response.context, kind="section"))
        reply = browse.section_view(self.knowledge, section_id)
        passages = tuple(self._passages_of(section_id))
        return Response("follow_up", reply, bool(passages), shown=passages,
                        context=ChatContext("section", section_id, passage_id=focus))

    def open_model(self, number: int | None) -> Response:
        models = self.knowledge.catalog.models
        if number is None or not 1 <= number <= len(models):
            return Response("notice", Reply(NO_SUCH_ITEM.format(number=number, where="11 mô hình")))
        model = models[number - 1]
        listing = next((e for e in self.knowledge.enumerations if any(i.opens == f"{MODEL_PREFIX}:{number}"
                                                                       for i in e.items)), None)
        index = next((i for i, item in enumerate(listing.items) if item.opens == f"{MODEL_PREFIX}:{number}"), 0) \
            if listing else 0
        context = ChatContext("model", listing.section_id if listing else "", listing.id if listing else "", index)
        return Response("follow_up", browse.model_card(model, self.knowledge), True,
                        shown=model.mentions, context=context)

    # -- helpers --------------------------------------------------------------------------

    def _section(self, section_id: str) -> Section | None:
        doc = self.knowledge.corpus.document(section_id.split(".", 1)[0])
        return doc.section(section_id) if doc else None

    def _items_of(self, section_id: str) -> Enumeration | None:
        return next((e for e in self.knowledge.enumerations
                     if e.section_id == section_id and e.shape == "items"), None)

    def _passages_of(self, section_id: str, containing: str = "") -> list[Passage]:
        """Content passages of one section (not its sub-sections), those with ``containing`` first."""
        found = [p for p in self.knowledge.corpus.passages if p.kind == "content" and section_of(p) == section_id]
        if containing:
            head = containing[:60]
            found.sort(key=lambda p: head not in p.text)
        return found


def browse_list_button(enumeration: Enumeration) -> list[list[Button]]:
    """A button back to the whole list an item belongs to."""
    prefix, _, section_id = (enumeration.items[0].opens if enumeration.items else "").partition(":")
    if enumeration.shape == "items":
        return [[Button("📋 Cả danh sách", f"{SECTION_PREFIX}:{enumeration.section_id}")]]
    if prefix == MODEL_PREFIX:
        return [[Button("⬅️ 11 mô hình", f"{MODEL_PREFIX}:list")]]
    return [[Button("📋 Cả danh sách", f"{SECTION_PREFIX}:{enumeration.section_id}")]]


def _item_rows(enumeration: Enumeration) -> list[list[Button]]:
    return list_buttons(enumeration)


def section_of(passage: Passage) -> str:
    """The id of the section a passage belongs to ("phu-luc-1-bo-tieu-chi.II.8.p2" → "...II.8")."""
    return passage.id.rsplit(".", 1)[0]


def problem_with(question: str) -> str | None:
    """A friendly reply for input that is not a question we can search, else None."""
    if not question:
        return EMPTY
    if len(question) > MAX_QUESTION_CHARS:
        return too_long("câu hỏi", len(question), MAX_QUESTION_CHARS)
    if question.strip().isdigit():
        return NUMBER_ONLY
    if not is_mostly_letters(question):
        return NOT_TEXT
    return None


def _same_question(result: SearchResult | None, reading: Reading) -> bool:
    """The search the pipeline started is for this question (no courtesies were set aside)."""
    return result is not None and reading.question == reading.text


def _nearest_sections(hits: list[Hit], limit: int = 2) -> list[Passage]:
    seen, out = set(), []
    for hit in hits:
        if hit.passage.section not in seen:
            seen.add(hit.passage.section)
            out.append(hit.passage)
    return out[:limit]


def _looks_english(text: str) -> bool:
    words = fold(text).split()
    return not has_diacritics(text) and sum(w.strip("?!.,") in _ENGLISH_HINTS for w in words) >= 1
