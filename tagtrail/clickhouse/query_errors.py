"""A failed query's error in terms of the query the user wrote.

clickhouse-connect sends `<query>\\n FORMAT Native`, so ClickHouse's syntax errors quote and point
at text the user never wrote ("failed at position 32 (FORMAT) ... FORMAT Native"). Positions inside
the user's query are still right (the clause is appended after it); a position past its end means
the query stopped too early, and is said so.
"""

from __future__ import annotations

import re

_APPENDED_FORMAT = re.compile(r"\n FORMAT \w+")
# ClickHouse: "failed at position 45 (Native) (line 2, col 9): Native." -- the quoted text runs to the
# end of what was sent, so past the user's query it is some tail of the appended clause.
_FAILED_AT = re.compile(r"failed at position (\d+) \([^)]*\) \(line \d+, col \d+\): (?:\s*FORMAT\s+)?\w*(?=\.)")
# "SELECT 1 +" ends in an open expression, which takes the appended FORMAT as a column name.
_FORMAT_AS_NAME = re.compile(r"identifier `FORMAT`")
_OWN_FORMAT = re.compile(r"\bFORMAT\s+\w+\s*;?\s*$", re.IGNORECASE)
STOPS_TOO_EARLY = "failed at the end of the query (it stops too early)"


def describe_query_error(query: str, error: BaseException | str) -> str:
    text = str(error)
    own_format = _OWN_FORMAT.search(query)
    if own_format:
        return (f"the query ends with its own `{own_format.group(0).strip()}`: tagtrail sql sets the output "
                "format itself; leave it out and use --format table|json|tsv")
    if _FORMAT_AS_NAME.search(text) and "FORMAT" not in query.upper():
        return f"Syntax error: {STOPS_TOO_EARLY}: its last expression is incomplete"
    user_end = len(query.rstrip().rstrip(";").rstrip().encode())  # ClickHouse counts bytes, from 1
    failed = _FAILED_AT.search(text)
    if failed and int(failed.group(1)) > user_end:
        text = f"{text[:failed.start()]}{STOPS_TOO_EARLY}{text[failed.end():]}"
    return _APPENDED_FORMAT.sub("", text)
