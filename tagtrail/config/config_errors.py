"""Configuration errors that point at the file, line and key at fault."""

from __future__ import annotations


class ConfigError(ValueError):
    """One or more problems in a site config; `problems` lists each as 'file:line: key: message'."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid site config:\n  " + "\n  ".join(problems))
