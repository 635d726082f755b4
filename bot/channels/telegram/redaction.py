"""Keep the bot token (and webhook secret) out of every log line.

Logger filters run where the record is made, before any handler (ours,
pytest's, a deployment's) sees it. httpx's request lines carry the URL
(`.../bot<token>/sendMessage`); PTB prints the token in `repr(bot)`, its
base-URL debug line and `InvalidToken`.
"""

from __future__ import annotations

import logging

OUR_LOGGERS = ("bot.channels.telegram.adapter", "bot.channels.telegram.channel", "bot.channels.telegram.updates")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if any(s in message for s in self._secrets):
            record.msg, record.args = self._redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        return True


def install_redaction(secrets: list[str]) -> RedactSecrets:
    """Attach the filter to every logger that may print the token.

    Logger filters run where the record is made, before any handler (ours,
    pytest's, a deployment's) sees it. httpx's request lines carry the URL
    (`.../bot<token>/sendMessage`); PTB prints the token in `repr(bot)`, its
    base-URL debug line and `InvalidToken`.
    """
    flt = RedactSecrets(secrets)
    names = ["httpx", "httpcore", "telegram", *OUR_LOGGERS]
    names += [n for n in logging.Logger.manager.loggerDict if n.startswith(("telegram.", "httpx.", "httpcore."))]
    for name in names:
        logging.getLogger(name).addFilter(flt)
    httpx_log = logging.getLogger("httpx")
    if httpx_log.level == logging.NOTSET:
        httpx_log.setLevel(logging.WARNING)   # one INFO line per API call is noise
    return flt


def remove_redaction(flt: RedactSecrets) -> None:
    for logger in [logging.getLogger(n) for n in list(logging.Logger.manager.loggerDict)]:
        if isinstance(logger, logging.Logger) and flt in logger.filters:
            logger.removeFilter(flt)
    for name in ("httpx", "httpcore", "telegram", *OUR_LOGGERS):
        logging.getLogger(name).removeFilter(flt)
