"""Handlers, knowledge and retrieval never know a messenger exists."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_FREE = ["handlers", "knowledge", "retrieval"]
FORBIDDEN = {"telegram", "aiohttp", "bot.platforms", "bot.channels.telegram", "bot.channels.zalo"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_platform_free_packages_import_no_messenger_code():
    offenders = []
    for package in PLATFORM_FREE:
        for path in (ROOT / package).rglob("*.py"):
            for module in imported_modules(path):
                if any(module == f or module.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_the_walk_sees_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import telegram\nfrom aiohttp import web\n")
    assert {"telegram", "aiohttp"} <= imported_modules(sample)


OUR_PACKAGES = {"bot", "handlers", "knowledge", "retrieval", "vntext", "console"}


def test_vntext_imports_nothing_of_ours():
    """vntext is the bottom layer: every other package may import it, it imports none of them."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "vntext").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in OUR_PACKAGES - {"vntext"}
    ]
    assert offenders == []


def test_the_message_path_knows_no_handler():
    """The pipeline and the channels run any handler set; the Q&A handler plugs its search in
    (``@router.prefetch``), and the Telegram adapter stores quiz polls through a `PollStore`."""
    offenders = []
    for path in [ROOT / "bot" / "pipeline.py", *(ROOT / "bot" / "channels").rglob("*.py")]:
        for module in imported_modules(path):
            if module == "handlers" or module.startswith("handlers.") or module == "bot.storage.quiz_repo":
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []
