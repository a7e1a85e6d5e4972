"""What a subcommand is to foolab: how its options are parsed, and what runs
it. Each lab/cli/*_commands.py module lists its own in COMMANDS."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NamedTuple

from lab.engine.lab import Lab


class Command(NamedTuple):
    add: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]  # its parser
    run: Callable[[Lab, argparse.Namespace], int]  # 0 when all went well
