"""The `--site FILE` option every service command takes, and loading it."""

from __future__ import annotations

import argparse
import os

from tagtrail.config import SiteConfig, load_site


def add_site_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--site",
        default=os.environ.get("TAGTRAIL_SITE"),
        required=required and not os.environ.get("TAGTRAIL_SITE"),
        metavar="FILE",
        help="site config YAML (default: $TAGTRAIL_SITE)",
    )


def load_site_option(args: argparse.Namespace) -> SiteConfig:
    return load_site(args.site) if args.site else SiteConfig()
