"""Announcements by officials: outbox, rate limits, the worker, the CLI.

    handlers/broadcast.py (/thongbao) or `civicbot broadcast send`
        → outbox.create_broadcast (a "scheduled" row)
    BroadcastWorker (in `civicbot run`, or `civicbot broadcast worker`)
        → start: recipients materialised → claim → rate limits → Sender → record
        → progress and the final report to the official

See bot/broadcast/worker.py for the exactly-once argument and its one window.
"""
