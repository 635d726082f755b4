"""All configuration, from environment variables prefixed CIVICBOT_ (and .env).

Nested sections use a double underscore: CIVICBOT_TELEGRAM__TOKEN. Secrets
are SecretStr so they never appear in logs or reprs. See .env.example.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.channels.zalo_bot.settings import ZaloBotSettings

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KNOWLEDGE_DIR = PACKAGE_ROOT / "knowledge" / "sources"

# Hải Phòng's communes, wards and the special zones after the 2025
# reorganisation are many; deployments list theirs in CIVICBOT_WARDS. This
# short default keeps the embedded bot usable out of the box.
DEFAULT_WARDS = [
    "Phường Hồng Bàng", "Phường Lê Chân", "Phường Ngô Quyền", "Phường Hải An",
    "Phường Kiến An", "Phường Đồ Sơn", "Phường Dương Kinh", "Phường Thủy Nguyên",
    "Xã An Dương", "Xã An Lão", "Xã Kiến Thụy", "Xã Tiên Lãng", "Xã Vĩnh Bảo",
    "Đặc khu Cát Hải", "Đặc khu Bạch Long Vĩ",
]


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    # Webhook mode when set (public HTTPS URL Telegram calls); long polling otherwise.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @property
    def enabled(self) -> bool:
        return self.token is not None and bool(self.token.get_secret_value())


class ZaloSettings(BaseModel):
    app_id: str | None = None
    oa_secret_key: SecretStr | None = None     # verifies webhook signatures
    app_secret: SecretStr | None = None        # sent as secret_key when refreshing tokens
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    api_base_url: str = "https://openapi.zalo.me"
    oauth_base_url: str = "https://oauth.zaloapp.com"
    # Webhook events older than this are replays and are rejected.
    max_event_age_seconds: int = 300

    @property
    def enabled(self) -> bool:
        return bool(self.app_id) and self.oa_secret_key is not None


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class ConsoleSettings(BaseModel):
    """The officials' web console under /console (console/)."""

    # The address officials open, as seen from outside (the sign-in links start with it).
    public_url: str = "http://127.0.0.1:8080"
    # Encrypts the session cookie (32+ characters); unset: a random key kept in <data dir>/console.key.
    session_secret: SecretStr | None = None
    login_link_minutes: int = Field(10, ge=1, le=60)
    session_hours: int = Field(8, ge=1, le=72)
    # "Secure" cookies need HTTPS; on by default, off for a plain-HTTP test server.
    secure_cookie: bool = True
    # Who answers, in published answers: "Giải đáp của <agency>, ngày …".
    agency: str = "UBND thành phố Hải Phòng"


class BroadcastSettings(BaseModel):
    """Announcements by officials (bot/broadcast): sending limits and the outbox worker.

    The limits are shared by every process sending for the bot (PostgreSQL
    holds them, see bot/channels/limits.py): set the platform's real limit,
    whatever the number of workers and replicas.
    """

    worker: bool = True                    # run the outbox worker inside `civicbot run`
    # By default a worker's id is stable across restarts on one host and data
    # directory (a restart takes back its claimed rows at once) and distinct
    # between processes running together. Set it only for a special layout;
    # never give two live processes the same id.
    worker_id: str | None = None
    concurrency: int = Field(8, ge=1, le=256)       # sends in flight per platform and process
    batch_size: int = Field(20, ge=1, le=1000)       # rows claimed per query
    poll_seconds: float = Field(1.0, gt=0)
    lease_seconds: float = Field(60.0, gt=0)         # a claim older than this (worker died) is taken back
    max_attempts: int = Field(5, ge=1)               # timeouts and 5xx, then "failed"
    backoff_base_seconds: float = Field(2.0, ge=0)
    backoff_max_seconds: float = Field(300.0, ge=0)
    # Messages per second for the whole bot, per platform name (registry names);
    # unset: the platform's documented limit (Telegram 30, Zalo 5: the OA's
    # quota as agreed with Zalo). 0 lifts the limit (benchmarks).
    # CIVICBOT_BROADCAST__RATES='{"zalo": 8}'
    rates: dict[str, float] = Field(default_factory=dict)
    # Seconds between two messages to one chat, per platform (default: the registry's).
    chat_intervals: dict[str, float] = Field(default_factory=dict)
    # Kept between admitting a message and its reaching the platform, so that
    # network jitter cannot put one message too many in one of its seconds.
    limit_margin_seconds: float = Field(0.03, ge=0, le=1)
    # Zalo followers outside the 7-day window get the announcement as the OA's
    # promotion message, within the quota Zalo grants the OA (off: reported
    # as outside the window).
    zalo_promotion: bool = True
    progress_seconds: float = Field(2.0, gt=0)       # how often the official's progress message changes
    max_text_chars: int = Field(1800, ge=100, le=3500)   # fits one Zalo message with header and footer


class QuizSettings(BaseModel):
    """Quizzes for youth union members (/quiz) and their leaderboard (/bangxephang)."""

    round_size: int = Field(10, ge=3, le=30)          # questions per round
    # Seconds to answer one question (Telegram's open_period, 5–600); 0: no limit.
    time_limit_seconds: int = Field(60, ge=0, le=600)
    # Answers arriving this much after the limit still count (network, webhook latency).
    grace_seconds: int = Field(10, ge=0, le=120)
    # Leaderboards rank by average score per round among those with at least this many rounds.
    min_rounds: int = Field(3, ge=1, le=100)
    leaderboard_size: int = Field(10, ge=3, le=50)
    seed: str = "civicbot-quiz"                       # question choice is deterministic given it

    @field_validator("time_limit_seconds")
    @classmethod
    def _telegram_open_period(cls, value: int) -> int:
        if 0 < value < 5:
            raise ValueError("must be 0 (no limit) or 5-600 seconds (Telegram's open_period)")
        return value


class PrivacySettings(BaseModel):
    """What is kept of the personal data residents type into questions and feedback."""

    # Phone numbers, e-mail addresses and CCCD/CMND numbers typed into feedback
    # or questions are masked before they are stored (vntext/pii.py). True keeps
    # the original in the database (e.g. so officials can call back through a
    # separate, controlled process); exports and officials' views mask it anyway.
    keep_contact_details: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CIVICBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    knowledge_dir: Path = DEFAULT_KNOWLEDGE_DIR
    database_url: str | None = None            # default: SQLite file in data_dir
    embedding_model: str = "multilingual-e5-small"
    embedding_threads: int | None = None
    # "onnx": the encoder runs in ONNX Runtime (same vectors, 2-3x faster on CPU);
    # "torch": plain sentence-transformers, e.g. for a model that cannot be exported.
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    # Questions through an 8-bit copy of the ONNX encoder (2.3x faster, same
    # rankings on dev and held-out).
    embedding_query_precision: Literal["int8", "float32"] = "int8"
    # Passages too (2.2x faster: what a document added with `civicbot docs add` costs;
    # hit@1 / hit@3 on dev, held-out and the fresh sets within one question of float32).
    embedding_passage_precision: Literal["int8", "float32"] = "int8"
    top_k: int = Field(3, ge=1, le=10)
    # One HTTP call to a messenger (a reply, an announcement) gives up after this;
    # a timeout may still have delivered the message (Delivery.maybe_delivered).
    send_timeout_seconds: float = Field(10.0, gt=0)

    telegram: TelegramSettings = TelegramSettings()
    zalo: ZaloSettings = ZaloSettings()
    zalo_bot: ZaloBotSettings = ZaloBotSettings()
    http: HttpSettings = HttpSettings()
    broadcast: BroadcastSettings = BroadcastSettings()
    console: ConsoleSettings = ConsoleSettings()
    quiz: QuizSettings = QuizSettings()

    privacy: PrivacySettings = PrivacySettings()

    # Keyed hash for pseudonymous ids in exports; required in production.
    pseudonym_secret: SecretStr = SecretStr("change-me")
    wards: list[str] = DEFAULT_WARDS
    # Added to every decline: where residents can ask instead (the city's hotline, the
    # public-service portal), as the deployment states it. Empty: nothing is added.
    referral_line: str = ""
    flood_max_messages: int = Field(20, ge=1)
    flood_window_seconds: int = Field(60, ge=1)
    # A chat reply failing transiently (5xx, timeout) is retried this long, then
    # recorded as failed; at most Zalo's 7-day window for customer-service messages.
    reply_deadline_seconds: float = Field(600.0, gt=0, le=7 * 24 * 3600)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'civicbot.db').resolve()}"


class SettingsError(SystemExit):
    """Start-up stops with one clear line naming the bad setting."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CIVICBOT_" + "__".join(str(p).upper() for p in first["loc"])
        raise SettingsError(f"Cấu hình sai: {name}: {first['msg']}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
