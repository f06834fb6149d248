"""Logging for rule scripts: everything, warnings included, goes to the rule's `log:` file."""

from __future__ import annotations

import logging
import sys
import warnings


def to_file(path: str | None, level: int = logging.INFO) -> logging.Logger:
    handlers: list[logging.Handler] = (
        [logging.FileHandler(path, mode="w")] if path else [logging.StreamHandler(sys.stderr)]
    )
    logging.basicConfig(
        level=level,
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    logger = logging.getLogger("nnclaims")

    def excepthook(kind, value, tb):  # the failure's traceback belongs in the rule's log too
        logger.critical("failed", exc_info=(kind, value, tb))
        sys.__excepthook__(kind, value, tb)

    sys.excepthook = excepthook
    return logger
