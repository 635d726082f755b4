"""Settings of the Zalo Bot Platform messenger: CIVICBOT_ZALO_BOT__*.

    CIVICBOT_ZALO_BOT__TOKEN           the bot token from the Zalo Bot Creator ("<bot id>:<secret>")
    CIVICBOT_ZALO_BOT__BASE_URL        the Bot API, the token is appended ("…/bot" + token)
    CIVICBOT_ZALO_BOT__WEBHOOK_URL     public HTTPS URL Zalo calls (…/zalo_bot/webhook); unset: long polling
    CIVICBOT_ZALO_BOT__WEBHOOK_SECRET  8–256 characters; Zalo sends it back in X-Bot-Api-Secret-Token

Kept apart from the package's aiohttp code so that bot/settings.py can import
it cheaply.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr, model_validator

# setWebhook's secret_token: 8 to 256 characters (Zalo Bot API, setWebhook).
SECRET_MIN, SECRET_MAX = 8, 256


class ZaloBotSettings(BaseModel):
    token: SecretStr | None = None
    base_url: str = "https://bot-api.zaloplatforms.com/bot"
    # Webhook mode when set (public HTTPS URL ending in /zalo_bot/webhook); long polling otherwise.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @property
    def enabled(self) -> bool:
        return self.token is not None and bool(self.token.get_secret_value())

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> "ZaloBotSettings":
        # Without a secret anyone who finds the URL could post updates as any resident.
        if self.webhook_url:
            secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
            if not SECRET_MIN <= len(secret) <= SECRET_MAX:
                raise ValueError(f"webhook_url needs webhook_secret of {SECRET_MIN}-{SECRET_MAX} characters")
        return self
