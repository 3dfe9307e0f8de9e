"""The types of the command line's arguments: durations, ports, data folders."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

DATA_DIR_HELP = "data folder (default ./data, or MEIMAGES_DATA_DIR)"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DURATION_S = 3650 * 86400
_DURATION_HELP = "seconds, or a number with s, m, h or d, e.g. 30s, 15m, 2h, 7d"


def _seconds(text: str) -> int:
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration ({_DURATION_HELP})")
    seconds = float(match[1]) * _UNITS[match[2]]
    if seconds > _MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"{text!r} is too long (at most 3650d)")
    return int(seconds)


def positive_duration(text: str) -> int:
    """argparse type: a lifetime such as 30s, 15m, 2h, 7d (or plain seconds), above zero."""
    seconds = _seconds(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive duration ({_DURATION_HELP})")
    return seconds


def duration(text: str) -> int:
    """argparse type: an age such as 0, 30m, 24h, 7d (or plain seconds); zero allowed."""
    return _seconds(text)


def port(text: str) -> int:
    """argparse type: a TCP port from 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return value


def workers(text: str) -> int:
    """argparse type: a number of worker processes, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1 or more)")
    return value


def data_dir(text: str) -> Path:
    """argparse type: a folder, existing or not (but not a file)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return path
