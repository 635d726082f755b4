"""The `civicbot` command line: one typer app, one module per subject.

Each module registers its commands here, in the order `civicbot --help` lists them.
"""

from __future__ import annotations

import typer

from bot.cli import admin, broadcast, docs, qa, quiz, storage

app = typer.Typer(
    help="civicbot: hỏi đáp Nghị quyết 05 của Hải Phòng trên Telegram, Zalo và dòng lệnh.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

qa.register(app)          # ask, index, chat, run
storage.register(app)     # db upgrade, export, stats
admin.register(app)       # admin add|remove|list
broadcast.register(app)   # broadcast send|list|status|cancel|worker
quiz.register(app)        # quiz export|report
docs.register(app)        # docs add|list|show|replace|withdraw|announce|sync


def main() -> None:
    app()
