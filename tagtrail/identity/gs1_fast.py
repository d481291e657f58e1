"""A fast path for the GS1 element strings handheld scanners emit; anything else is left to biip.

Why hand-written code next to a well-kept library: biip is the bottleneck of the scan service when
barcodes are new (receiving stock: every serial differs, so the parse cache never hits); it took
most of the per-scan CPU and held one worker below the service's target. `benchmarks/barcode_parse.py`
times biip alone against this fast path in one run (other work may share the cores, so the ratio
within one run is what counts) and `benchmarks/scan_upload.py --biip-only` runs the service
without it; their figures are in docs/benchmarks.md.

Scope: AIs 00 (SSCC-18), 01 (GTIN-14), 10 (batch/lot), 17 (expiry YYMMDD) and 21 (serial), in any
order, each at most once, as an element string (fixed-length AIs run on, variable-length ones end
at a group separator or the end) or as human-readable text `(01)...(21)...`, and bare GTIN-8/12/13/14
or SSCC digits. The caller strips the AIM symbology identifier and any leading/trailing separators.

The rule that keeps it honest: it only ever *accepts*. Every function returns None ("decline") for
anything it does not fully recognise as valid (another AI, a wrong check digit, an impossible date,
a serial over 20 characters or outside GS1 character set 82, a repeated AI, stray characters), and
biip then parses the data as before, so every rejection and its reason still comes from biip. What
it accepts must give exactly biip's result; tests/scans/test_gs1_fast.py checks that by property.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from functools import lru_cache

# GS1 AI encodable character set 82, as in biip's (and the GS1 General Specifications') pattern
# for AIs 10 and 21; written out in ASCII because Python's \d would also match non-ASCII digits.
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_VARIABLE = re.compile(r"[!\"%-?A-Z_a-z]{1,20}")
_HRI_ELEMENT = re.compile(r"\(([0-9]{2})\)([^()]*)")
_FIXED_LENGTH = {"00": 18, "01": 14, "17": 6}
_VARIABLE_AIS = frozenset({"10", "21"})
_CHECKED = {"00", "01"}  # keys whose last digit is a GS1 mod-10 check digit
BARE_LENGTHS = frozenset({8, 12, 13, 14, 18})

Elements = tuple[dict[str, str], "dt.date | None"]
"""AI -> value (as biip reports `element.value`), and the AI 17 date if present."""


def usable_separators(separators: tuple[str, ...]) -> bool:
    """The fast path splits on separators by character; one that could also be data (a digit, a
    set-82 character, a parenthesis) or is not one character would need biip's exact rules."""
    return all(len(s) == 1 and s not in CSET82 for s in separators)


def element_string(body: str, separators: str) -> Elements | None:
    """`0112345678901231` + `21SERIAL` + GS + `10LOT` ... in any order; None to decline."""
    values: dict[str, str] = {}
    n = len(body)
    pos = 0
    while pos < n:
        ai = body[pos : pos + 2]
        if ai in values:
            return None
        start = pos + 2
        length = _FIXED_LENGTH.get(ai)
        if length is not None:
            end = start + length
            value = body[start:end]
            if len(value) != length or not (value.isascii() and value.isdigit()):
                return None
        elif ai in _VARIABLE_AIS:
            found = _VARIABLE.match(body, start)
            if found is None:
                return None
            end = found.end()
            if end < n and body[end] not in separators:  # over 20 characters or one outside set 82: biip reads on
                return None
            value = found.group()
        else:
            return None
        values[ai] = value
        pos = end
        while pos < n and body[pos] in separators:
            pos += 1
    return _checked(values)


def human_readable(body: str) -> Elements | None:
    """`(01)12345678901231(21)SERIAL(10)LOT`; None to decline."""
    values: dict[str, str] = {}
    n = len(body)
    pos = 0
    while pos < n:
        found = _HRI_ELEMENT.match(body, pos)
        if found is None:
            return None
        ai, value = found.groups()
        if ai in values:
            return None
        length = _FIXED_LENGTH.get(ai)
        if length is not None:
            if len(value) != length or not (value.isascii() and value.isdigit()):
                return None
        elif ai not in _VARIABLE_AIS or _VARIABLE.fullmatch(value) is None:
            return None
        values[ai] = value
        pos = found.end()
    return _checked(values)


def bare_key_valid(digits: str) -> bool:
    """Bare ASCII digits of a GTIN-8/12/13/14 or SSCC-18 with a correct check digit; when False,
    biip says what is wrong."""
    return len(digits) in BARE_LENGTHS and digits.isascii() and digits.isdigit() and _check_digit_ok(digits)


def _checked(values: dict[str, str]) -> Elements | None:
    if "01" not in values and "00" not in values:
        return None  # no key: biip decides between "no_item_key" and an internal label
    for ai in _CHECKED:
        if ai in values and not _check_digit_ok(values[ai]):
            return None
    expiry = None
    if "17" in values:
        expiry = _gs1_date(values["17"])
        if expiry is None:
            return None
    return values, expiry


@lru_cache(maxsize=4096)  # a handheld scans many serials of few GTINs
def _check_digit_ok(digits: str) -> bool:
    """GS1 mod-10: weights 3,1,3,... from the right, the check digit excluded."""
    body = digits[:-1]
    total = 3 * sum(map(int, body[::-2])) + sum(map(int, body[-2::-2]))
    return (10 - total % 10) % 10 == int(digits[-1])


def _gs1_date(yymmdd: str) -> dt.date | None:
    """GS1 General Specifications 7.12, as biip applies it: the century puts the year within 49
    years past and 50 years ahead of the current (UTC) year; day 00 is the month's last day."""
    year, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if not 1 <= month <= 12 or day > 31:
        return None
    current = dt.datetime.now(tz=dt.UTC).year
    century = current - current % 100
    if 51 <= year - current % 100 <= 99:
        century -= 100
    elif -99 <= year - current % 100 <= -50:
        century += 100
    year += century
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
