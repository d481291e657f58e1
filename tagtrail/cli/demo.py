"""`tagtrail demo`: a simulated warehouse on embedded defaults."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a simulated warehouse on embedded defaults",
                       description="Run a simulated warehouse end to end on embedded defaults.")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from tagtrail.cli.errors import UserError

    raise UserError("the demo is being built")
