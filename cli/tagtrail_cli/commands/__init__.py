"""One module per `tagtrail` subcommand, each with a `register(subparsers)` (listed in main.COMMANDS)."""
