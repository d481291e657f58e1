"""`tagtrail hash-token`: the value to put in a scanner's `token_sha256`."""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hash-token",
        help="print the SHA-256 of a scanner API token for the site config",
        description="Print the SHA-256 of a device token (for scanners[].token_sha256). With --new, "
        "generate a random token first and print both. Reads the token from stdin when not given.",
    )
    p.add_argument("token", nargs="?", help="the device's API token")
    p.add_argument("--new", action="store_true", help="generate a new random token")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(24) if args.new else (args.token or sys.stdin.readline().strip())
    if not token:
        print("tagtrail hash-token: no token given", file=sys.stderr)
        return 2
    if args.new:
        print(f"token:        {token}")
        print(f"token_sha256: {hashlib.sha256(token.encode()).hexdigest()}")
    else:
        print(hashlib.sha256(token.encode()).hexdigest())
    return 0
