"""The officials' web console, served by the bot's own aiohttp server under /console.

    console.add_routes(app, deps)      # inside `civicbot run` (bot/runner.py)
    app = console.create_app(deps)     # the console alone (tests, bench/console.py)

Server-rendered (aiohttp-jinja2, autoescape), no front-end build and no CDN:
templates/ and static/ are all it needs. See console/app.py for the routes.
"""

from console.app import add_routes, create_app

__all__ = ["add_routes", "create_app"]
