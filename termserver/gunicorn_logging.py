"""gunicorn's own log lines (start, listening, workers booted and exiting, timeouts) in the app's log format.

``termserver serve`` passes ``--logger-class termserver.gunicorn_logging.Logger``: with ``TERMSERVER_LOG_FORMAT=json``
every line gunicorn writes is then a JSON object like the app's (time, level, logger, message), so a log pipeline
reading the app's JSON does not meet text lines from the server around it. With the text format gunicorn's lines are
left as gunicorn writes them.
"""
from __future__ import annotations

from typing import Any

from gunicorn import glogging

from termserver.config import load_settings
from termserver.observability import JsonLogFormatter


class Logger(glogging.Logger):
    """gunicorn's logger, its handlers formatted as the app's JSON lines when the app logs JSON."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if _log_format() == "json":
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonLogFormatter())


def _log_format() -> str:
    try:
        return str(load_settings()["LOG_FORMAT"])
    except ValueError:  # a bad setting is reported by the app's own start-up, with its name; keep gunicorn's format
        return "text"
