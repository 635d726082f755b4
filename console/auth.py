"""Who is asking: the session cookie, its expiry, CSRF tokens and the role checks.

The session is an encrypted, signed cookie (aiohttp-session with Fernet:
HttpOnly, SameSite=Lax, Secure unless configured off) holding the
official's id, when it was opened and a CSRF token. Every request re-reads
the official's role and wards from the database, so removing an official or
narrowing their wards takes effect on their next click; a session older
than ``session_hours`` is over whatever the cookie says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.settings import Settings
from bot.storage.console_repo import Officer, get_officer

COOKIE_NAME = "civicbot_console"
KEY_FILE = "console.key"
OFFICER = "officer"          # request key: the signed-in Officer
PUBLIC_PATHS = ("/console/login", "/console/static/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_key(settings: Settings) -> bytes:
    """32 bytes for Fernet: from CIVICBOT_CONSOLE__SESSION_SECRET, else a random key
    kept (0600) in the data dir and shared by every process that uses it."""
    secret = settings.console.session_secret
    if secret is not None and secret.get_secret_value():
        return hashlib.sha256(secret.get_secret_value().encode()).digest()
    path: Path = settings.data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:          # another process on this data dir made it first
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(base64.urlsafe_b64encode(secrets.token_bytes(32)))
    return base64.urlsafe_b64decode(path.read_bytes().strip())


def cookie_storage(settings: Settings) -> EncryptedCookieStorage:
    return EncryptedCookieStorage(
        session_key(settings), cookie_name=COOKIE_NAME, path="/console",
        max_age=settings.console.session_hours * 3600, httponly=True, samesite="Lax",
        secure=settings.console.secure_cookie,
    )


async def sign_in(request: web.Request, official_id: int, now: float) -> None:
    session = await new_session(request)        # a fresh identity: no fixation of an earlier cookie
    session["official_id"] = official_id
    session["opened"] = now
    session["csrf"] = secrets.token_urlsafe(24)


async def sign_out(request: web.Request) -> None:
    (await get_session(request)).invalidate()


def wants_html(request: web.Request) -> bool:
    return request.method == "GET" and not request.path.endswith((".csv", ".json"))


def is_public(path: str) -> bool:
    return path == "/console/login" or any(path.startswith(p) for p in PUBLIC_PATHS)


def guard(max_age_seconds: int, db_sessions, clock) -> Callable:
    """Middleware: a live session for every route but sign-in and static files; CSRF on every POST."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.path):
            return await handler(request)
        session = await get_session(request)
        official_id, opened = session.get("official_id"), session.get("opened")
        officer: Officer | None = None
        if official_id is not None and opened is not None and clock().timestamp() - opened < max_age_seconds:
            async with db_sessions() as db:
                officer = await get_officer(db, int(official_id))
        if officer is None:
            session.invalidate()
            if wants_html(request):
                raise web.HTTPFound("/console/login?het_han=1" if official_id is not None else "/console/login")
            raise web.HTTPUnauthorized(text="Cần đăng nhập.")
        if request.method == "POST":
            expected = session.get("csrf", "")
            given = request.headers.get("X-CSRF-Token") or (await request.post()).get("csrf", "")
            if not expected or not isinstance(given, str) or not hmac.compare_digest(given, expected):
                raise web.HTTPForbidden(text="Phiên làm việc không hợp lệ (CSRF). Bạn tải lại trang rồi thử lại nhé.")
        request[OFFICER] = officer
        return await handler(request)

    return middleware


def officer_of(request: web.Request) -> Officer:
    return request[OFFICER]


def must_act(request: web.Request) -> Officer:
    """The officer, if they may change things (not a viewer); else 403."""
    officer = officer_of(request)
    if not officer.can_act:
        raise web.HTTPForbidden(text="Tài khoản chỉ có quyền xem, không thực hiện được thao tác này.")
    return officer


def must_be_admin(request: web.Request) -> Officer:
    officer = officer_of(request)
    if not officer.is_admin:
        raise web.HTTPForbidden(text="Chỉ quản trị viên mới xem được trang này.")
    return officer


def must_see_ward(officer: Officer, ward: str | None) -> None:
    if ward and officer.scope is not None and ward not in officer.scope:
        raise web.HTTPForbidden(text="Bạn không phụ trách phường/xã này.")
