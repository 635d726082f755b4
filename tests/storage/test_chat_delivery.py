"""The durable message path (bot/channels/dispatch.py) on SQLite and PostgreSQL:
updates stored before they are acknowledged and processed once, replies retried
until delivered or their deadline, in order, one update of a chat at a time."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels import registry
from bot.channels.delivery import Delivery, Outcome
from bot.channels.dispatch import ChatDispatcher, NotAccepting, backoff
from bot.channels.wire import incoming_to_json, reply_to_json
from bot.messages import Incoming, Reply, utcnow
from bot.storage import inbox
from bot.storage.delivery_models import FAILED, SENT, ChatLease, InboxUpdate, OutboxReply
from bot.storage.stats import collect, format_stats

TRANSIENT = Delivery(Outcome.TRANSIENT, detail="HTTP 502", maybe_delivered=True)


class ScriptedChannel:
    """Answers each send with the next scripted verdict (then: delivered); records what went out."""

    platform = "telegram"
    limits = registry.get("telegram").limits

    def __init__(self, *verdicts: Delivery):
        self.script = deque(verdicts)
        self.attempts: list[str] = []
        self.delivered: list[tuple[str, str]] = []

    async def send(self, chat_id: str, reply: Reply, *, skip_parts: int = 0) -> Delivery:
        self.attempts.append(reply.text)
        verdict = self.script.popleft() if self.script else Delivery.ok(str(len(self.delivered) + 1))
        if verdict.delivered:
            self.delivered.append((chat_id, reply.text))
        return verdict

    async def edit(self, chat_id, message_id, reply):
        return Delivery(Outcome.PERMANENT)

    async def aclose(self) -> None:
        pass


def update(chat: str, text: str, message_id: str) -> Incoming:
    return Incoming.from_platform("telegram", chat, chat, text, message_id=message_id)


_opened: list[ChatDispatcher] = []


def dispatcher(pipeline, channel, **options) -> ChatDispatcher:
    options.setdefault("backoff_base", 0.001)
    _opened.append(ChatDispatcher(pipeline, {"telegram": channel}, **options))
    return _opened[-1]


@pytest.fixture(autouse=True)
async def close_dispatchers():
    """Each dispatcher holds its inbox writer's connection until closed."""
    yield
    while _opened:
        await _opened.pop().close(drain_seconds=0)


async def outbox_rows(db) -> list[OutboxReply]:
    async with db.sessions() as session:
        return list((await session.scalars(select(OutboxReply).order_by(OutboxReply.id))).all())


async def test_a_reply_is_retried_until_delivered(pipeline, db):
    channel = ScriptedChannel(TRANSIENT, TRANSIENT)
    chats = dispatcher(pipeline, channel)
    await chats.accept(update("c1", "/start", "m1"))
    await chats.idle()
    assert channel.delivered and channel.delivered[0][0] == "c1"
    assert channel.attempts[:3] == [channel.attempts[0]] * 3      # the same reply, three times
    first = (await outbox_rows(db))[0]
    assert (first.status, first.attempts, first.maybe_delivered) == (SENT, 3, 2)


async def test_a_redelivered_update_is_answered_once(pipeline):
    channel = ScriptedChannel()
    chats = dispatcher(pipeline, channel)
    await chats.accept(update("c1", "/start", "m1"))
    await chats.accept(update("c1", "/start", "m1"))
    await chats.idle()
    once = list(channel.delivered)
    await chats.accept(update("c1", "/start", "m1"))      # redelivered after it was answered
    await chats.idle()
    assert channel.delivered == once and once


async def test_the_next_update_waits_for_the_replies_to_the_last(pipeline):
    channel = ScriptedChannel(TRANSIENT, TRANSIENT, TRANSIENT)
    chats = dispatcher(pipeline, channel)
    await chats.accept(update("c1", "/start", "m1"))
    await chats.accept(update("c1", "/help", "m2"))
    await chats.idle()
    texts = [text for _, text in channel.delivered]
    start_replies = await pipeline_replies(pipeline, "c2", "/start")
    assert texts[:len(start_replies)] == start_replies     # /start's replies first, all of them
    assert len(texts) > len(start_replies)                  # then /help's


async def pipeline_replies(pipeline, chat: str, text: str) -> list[str]:
    return [r.text for r in await pipeline.process(update(chat, text, f"probe-{chat}"))]


async def test_a_reply_failing_past_its_deadline_is_recorded_and_counted(pipeline, db):
    channel = ScriptedChannel(*[TRANSIENT] * 1000)
    chats = dispatcher(pipeline, channel, deadline_seconds=0.05, backoff_base=0.01)
    await chats.accept(update("c1", "/start", "m1"))
    await chats.idle()
    rows = await outbox_rows(db)
    assert rows and all(row.status == FAILED for row in rows)
    assert rows[0].detail.startswith("deadline passed")
    async with db.sessions() as session:
        stats = await collect(session, utcnow())
    assert stats.failed_replies == {("telegram", "hết hạn gửi lại"): len(rows)}
    assert "Tin trả lời không gửi được" in format_stats(stats)
    # The chat is not stuck: its next update is answered.
    channel.script.clear()
    await chats.accept(update("c1", "/help", "m2"))
    await chats.idle()
    assert channel.delivered


async def test_a_blocked_chat_is_not_retried(pipeline, db):
    channel = ScriptedChannel(Delivery(Outcome.BLOCKED, detail="Forbidden"))
    chats = dispatcher(pipeline, channel)
    await chats.accept(update("c1", "/help", "m1"))
    await chats.idle()
    first = (await outbox_rows(db))[0]
    assert (first.status, first.attempts) == (FAILED, 1)
    assert channel.attempts.count(channel.attempts[0]) == 1


async def test_after_a_crash_accepted_updates_and_owed_replies_go_out_once(pipeline, db):
    """What a killed process left: two stored, unprocessed updates and a reply not yet sent."""
    writer = inbox.InboxWriter.for_database(db)
    for chat, message_id in (("c1", "m1"), ("c2", "m2")):
        msg = update(chat, "/help", message_id)
        assert await writer.store(inbox.NewUpdate("telegram", message_id, chat, incoming_to_json(msg)))
    await writer.close()
    now = utcnow()
    async with db.sessions.begin() as session:
        await inbox.add_replies(session, "telegram", "c3", None, [reply_to_json(Reply("Câu 2/10"))],
                                now, now + timedelta(minutes=10))
    channel = ScriptedChannel()
    chats = dispatcher(pipeline, channel)
    assert await chats.resume() == 3
    await chats.idle()
    assert ("c3", "Câu 2/10") in channel.delivered
    assert {chat for chat, _ in channel.delivered} == {"c1", "c2", "c3"}
    again = ScriptedChannel()
    restarted = dispatcher(pipeline, again)
    assert await restarted.resume() == 0                  # a second restart finds nothing to do
    async with db.sessions() as session:
        assert all(row.processed_at for row in (await session.scalars(select(InboxUpdate))).all())


def test_backoff_grows_and_stays_jittered_within_bounds():
    assert backoff(1, 1.0, 60.0, rng=lambda: 0.0) == 0.5
    assert backoff(3, 1.0, 60.0, rng=lambda: 1.0) == 4.0
    assert backoff(30, 1.0, 60.0, rng=lambda: 1.0) == 60.0


async def test_two_processes_share_a_chat_one_at_a_time_in_order(pipeline, db):
    """Replicas behind one webhook port: a chat's updates land on either; each is answered
    once, and in the order they arrived."""
    channel = ScriptedChannel(TRANSIENT)
    first = dispatcher(pipeline, channel, holder="replica-1", leases=True)
    second = dispatcher(pipeline, channel, holder="replica-2", leases=True)
    texts = ["/start", "/help", "/start", "/help"]
    for n, text in enumerate(texts):
        await (first if n % 2 == 0 else second).accept(update("c1", text, f"m{n}"))
    await first.idle()
    await second.idle()
    await first.resume()                      # the sweep: nothing may be left behind
    await second.resume()
    await first.idle()
    await second.idle()
    expected = []
    for n, text in enumerate(texts):
        expected += await pipeline_replies(pipeline, f"probe{n}", text)
    assert [text for _, text in channel.delivered] == expected
    async with db.sessions() as session:
        rows = (await session.scalars(select(InboxUpdate))).all()
        leases = (await session.scalars(select(ChatLease))).all()
    assert len(rows) == 4 and all(row.processed_at for row in rows)
    assert leases == []                       # dropped when the work was done


async def test_a_chat_leased_by_a_live_process_is_left_to_it(pipeline, db):
    now = utcnow()
    assert await inbox.take_lease(db.sessions, "telegram", "c1", "elsewhere", now, now + timedelta(minutes=2))
    channel = ScriptedChannel()
    chats = dispatcher(pipeline, channel, holder="here", leases=True)
    await chats.accept(update("c1", "/help", "m1"))
    await chats.idle()
    assert channel.delivered == []            # the other process owns the chat now
    async with db.sessions.begin() as session:
        await session.execute(ChatLease.__table__.delete())     # it died: its lease ran out
    await chats.resume()
    await chats.idle()
    assert channel.delivered


async def test_a_question_is_searched_ahead_through_the_qa_prefetch_hook(pipeline, deps, monkeypatch):
    """The pipeline starts the Q&A handler's search before the update's transaction, without
    knowing the handler: the hook registered with ``@router.prefetch``."""
    started = []
    real = deps.router._prefetch

    def spy(msg, deps_):
        started.append(msg.text)
        return real(msg, deps_)

    monkeypatch.setattr(deps.router, "_prefetch", spy)
    await pipeline.process(update("c1", "Nghị quyết 05 là gì?", "q1"))
    await pipeline.process(update("c1", "/help", "q2"))            # a command: nothing to search
    assert started == ["Nghị quyết 05 là gì?"]


class MenuChannel(ScriptedChannel):
    """Also answers edits from a script of its own; records which message each edit named."""

    def __init__(self, *edit_verdicts: Delivery):
        super().__init__()
        self.edit_script = deque(edit_verdicts)
        self.edits: list[str] = []

    async def edit(self, chat_id, message_id, reply):
        self.edits.append(message_id)
        return self.edit_script.popleft() if self.edit_script else Delivery.ok(message_id)


def tap(chat: str, data: str, message_id: str, menu_message_id: str) -> Incoming:
    return Incoming.from_platform("telegram", chat, chat, None, callback_data=data, message_id=message_id,
                                  menu_message_id=menu_message_id)


async def test_a_reply_replacing_a_menu_edits_the_tapped_message(pipeline):
    channel = MenuChannel(TRANSIENT)                   # the edit is retried as an edit, not sent anew
    chats = dispatcher(pipeline, channel)
    await chats.accept(tap("c1", "mv:list", "m1", "41"))
    await chats.idle()
    assert channel.edits == ["41", "41"] and channel.attempts == []


async def test_a_refused_edit_is_sent_as_a_new_message(pipeline, db):
    channel = MenuChannel(Delivery(Outcome.PERMANENT, detail="Bad Request: message can't be edited"))
    chats = dispatcher(pipeline, channel)
    await chats.accept(tap("c1", "mv:list", "m1", "41"))
    await chats.idle()
    assert channel.edits == ["41"] and len(channel.delivered) == 1
    assert [row.status for row in await outbox_rows(db)] == [SENT]


async def test_the_send_gate_is_asked_before_every_attempt(pipeline):
    class CountingGate:
        def __init__(self):
            self.asked: list[tuple[str, str]] = []

        async def acquire(self, platform: str, chat_id: str) -> None:
            self.asked.append((platform, chat_id))

    gate = CountingGate()
    channel = ScriptedChannel(TRANSIENT)
    chats = dispatcher(pipeline, channel, gate=gate)
    await chats.accept(update("c1", "/help", "m1"))
    await chats.idle()
    assert len(gate.asked) == len(channel.attempts) >= 2 and set(gate.asked) == {("telegram", "c1")}


async def test_an_update_arriving_while_closing_is_neither_stored_nor_acknowledged(pipeline, db):
    chats = dispatcher(pipeline, ScriptedChannel())
    await chats.close()
    with pytest.raises(NotAccepting):           # the messenger answers 503: it is redelivered
        await chats.accept(update("c1", "/help", "m1"))
    assert await inbox.next_update(db.sessions, "telegram", "c1") is None


class AdvancingChannel(ScriptedChannel):
    """Each send takes ``seconds`` of the dispatcher's clock (work that outlasts a lease)."""

    def __init__(self, now: list, seconds: float, *verdicts: Delivery):
        super().__init__(*verdicts)
        self.now, self.seconds = now, seconds

    async def send(self, chat_id: str, reply: Reply, *, skip_parts: int = 0) -> Delivery:
        self.now[0] += timedelta(seconds=self.seconds)
        return await super().send(chat_id, reply, skip_parts=skip_parts)


def counting_leases(monkeypatch) -> list[str]:
    calls: list[str] = []
    take = inbox.take_lease

    async def counted(sessions, platform, chat_id, holder, now, until):
        calls.append(chat_id)
        return await take(sessions, platform, chat_id, holder, now, until)

    monkeypatch.setattr(inbox, "take_lease", counted)
    return calls


async def test_a_chat_busy_for_longer_than_half_its_lease_extends_it(pipeline, db, monkeypatch):
    calls = counting_leases(monkeypatch)
    now = [utcnow()]
    channel = AdvancingChannel(now, 70)               # the lease is 120 s
    chats = dispatcher(pipeline, channel, holder="here", leases=True, clock=lambda: now[0])
    await chats.accept(update("c1", "/help", "m1"))
    await chats.accept(update("c1", "/start", "m2"))
    await chats.idle()
    assert len(channel.delivered) >= 2
    assert len(calls) >= 2                            # taken, then extended before the second update


async def test_a_retried_reply_does_not_extend_the_lease_at_every_attempt(pipeline, db, monkeypatch):
    calls = counting_leases(monkeypatch)
    channel = ScriptedChannel(TRANSIENT, TRANSIENT, TRANSIENT)
    chats = dispatcher(pipeline, channel, holder="here", leases=True)
    await chats.accept(update("c1", "/help", "m1"))
    await chats.idle()
    assert channel.delivered and len(channel.attempts) >= 4
    assert calls == ["c1"]                            # taken once; its 120 s were never half gone


async def test_several_updates_left_by_a_crash_in_one_chat_are_all_processed_in_order(pipeline, db):
    writer = inbox.InboxWriter.for_database(db)
    texts = ["/start", "/help", "/start"]
    for n, text in enumerate(texts):
        assert await writer.store(inbox.NewUpdate("telegram", f"m{n}", "c1", incoming_to_json(update("c1", text, f"m{n}"))))
    await writer.close()
    channel = ScriptedChannel()
    chats = dispatcher(pipeline, channel)
    assert await chats.resume() == 1
    await chats.idle()
    expected = []
    for n, text in enumerate(texts):
        expected += await pipeline_replies(pipeline, f"probe{n}", text)
    assert [text for _, text in channel.delivered] == expected
