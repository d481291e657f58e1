"""The GS1 fast path against biip, the reference: for any data a scanner may send, the parser with
the fast path gives exactly the ParsedBarcode biip alone gives, or the same rejection.

The fast path only accepts; it declines everything else to biip. So the properties are (1) equal
answers on valid and invalid data alike, and (2) the fast path really takes the common forms, or
it would be dead code that the first property cannot notice.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagtrail.identity import BarcodeError, BarcodeParser, gs1_fast
from tests.scans.barcodes import GS, check_digit, gtin14, sscc18, wrong_check_digit

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
# Characters a serial must not hold (GS1 set 82 excludes them), including a non-ASCII digit that
# Python's \d would take for a digit, whitespace biip strips in HRI, and the separators.
OUTSIDE_CSET82 = " #$@[\\]^`{|}~\u00e9\u0663\u00b2\t" + GS

examples = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(parser: BarcodeParser, data: str) -> tuple:
    try:
        return ("parsed", parser.parse(data))
    except BarcodeError as exc:
        return ("rejected", exc.reason, str(exc))


# -- generators: valid values, and each way a value can be wrong -------------------------------
def _keys(body_len: int, make) -> st.SearchStrategy[str]:
    bodies = st.one_of(
        st.text("0123456789", min_size=body_len, max_size=body_len),
        # leading zeros: GTIN-8/12/13 inside a GTIN-14, which biip strips and pads back
        st.integers(0, 10**8 - 1).map(lambda n: str(n).zfill(body_len)),
        # restricted circulation numbers (02, 2x prefixes) that biip treats as RCNs
        st.sampled_from(["002", "02", "2", "0002", "00000002"]).flatmap(
            lambda p: st.text("0123456789", min_size=body_len - len(p), max_size=body_len - len(p)).map(lambda r: p + r)),
    )
    # valid (mostly), wrong check digit, one digit short, one digit not ASCII (Python's isdigit() takes them)
    return st.one_of(bodies.map(make), bodies.map(make), bodies.map(make), bodies.map(make).map(wrong_check_digit), bodies,
                     st.tuples(bodies.map(make), st.integers(0, body_len), st.sampled_from("\u0663\u00b2\uff11")).map(
                         lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + 1:]))


gtins = _keys(13, gtin14)
ssccs = _keys(17, sscc18)
texts = st.one_of(
    st.text(CSET82, min_size=1, max_size=20),  # valid (mostly)
    st.text(CSET82, min_size=1, max_size=20),
    st.text(CSET82, min_size=18, max_size=20),
    st.text(CSET82, min_size=21, max_size=26),  # over-length
    st.just(""),
    st.builds(lambda a, c, b: a + c + b, st.text(CSET82, max_size=8), st.sampled_from(OUTSIDE_CSET82), st.text(CSET82, max_size=8)),
)
YEAR = dt.datetime.now(tz=dt.UTC).year
dates = st.one_of(
    st.dates(dt.date(1960, 1, 1), dt.date(2120, 12, 31)).map(lambda d: d.strftime("%y%m%d")),
    # the century boundary (49 years back, 50 ahead) and day 00 (the month's last day)
    st.builds(lambda y, m, d: f"{(YEAR + y) % 100:02d}{m:02d}{d}", st.integers(48, 52), st.integers(1, 12), st.sampled_from(["00", "01", "28"])),
    st.builds(lambda y, m: f"{y:02d}{m:02d}00", st.integers(0, 99), st.integers(1, 12)),
    st.builds(lambda y, m, d: f"{y:02d}{m:02d}{d:02d}", st.integers(0, 99), st.integers(0, 13), st.integers(0, 32)),
    st.text("0123456789", min_size=5, max_size=7),
)
values_for = {"00": ssccs, "01": gtins, "10": texts, "17": dates, "21": texts}
others = st.sampled_from([("11", "240101"), ("30", "12"), ("240", "PART-1"), ("400", "PO-77"), ("02", gtin14("0061414100000"))])
element = st.one_of(st.sampled_from(sorted(values_for)).flatmap(lambda ai: values_for[ai].map(lambda v: (ai, v))), others)
keyed = st.sampled_from(["00", "01", "01"]).flatmap(lambda ai: values_for[ai].map(lambda v: (ai, v)))
# Mostly with a key AI somewhere (the data the fast path is for), sometimes without.
elements = st.one_of(
    st.tuples(st.lists(element, max_size=4), keyed, st.integers(0, 4)).map(lambda t: t[0][:t[2]] + [t[1]] + t[0][t[2]:]),
    st.tuples(st.lists(element, max_size=4), keyed, st.integers(0, 4)).map(lambda t: t[0][:t[2]] + [t[1]] + t[0][t[2]:]),
    st.lists(element, max_size=5),
)
prefixes = st.sampled_from(["]C1", "]d2", "]Q3", "]e0", "", GS, "]C0", "]E0", "]C1" + GS])


def element_string(parts: list[tuple[str, str]], gs_after_fixed: bool, drop_gs: bool, sep: str = GS) -> str:
    """Variable-length values end with GS except the last (or with none when `drop_gs`)."""
    out = []
    for i, (ai, value) in enumerate(parts):
        out.append(ai + value)
        last = i == len(parts) - 1
        fixed = ai in ("00", "01", "02", "11", "17")
        if not last and ((not fixed and not drop_gs) or (fixed and gs_after_fixed)):
            out.append(sep)
    return "".join(out)


@st.composite
def scanned(draw) -> str:
    """What a scanner might send: element strings, HRI, bare keys, and each of them mangled."""
    parts = draw(elements)
    form = draw(st.sampled_from(["element", "element", "hri", "bare"]))
    if form == "element":
        data = draw(prefixes) + element_string(parts, draw(st.booleans()), draw(st.booleans()))
    elif form == "hri":
        data = draw(st.sampled_from(["", "]C1", "]Q3"])) + "".join(f"({ai}){v}" for ai, v in parts)
    else:
        data = draw(st.sampled_from(["", "]E0", "]C1"])) + draw(st.one_of(gtins, ssccs, gtins.map(lambda g: g.lstrip("0") or "0")))
    if data and draw(st.integers(0, 4)) == 0:  # one character inserted, deleted or replaced
        at = draw(st.integers(0, len(data) - 1))
        char = draw(st.sampled_from(CSET82[:20] + OUTSIDE_CSET82 + "()"))
        data = draw(st.sampled_from([data[:at] + char + data[at:], data[:at] + data[at + 1:], data[:at] + char + data[at + 1:]]))
    return data + draw(st.sampled_from(["", "", "\r\n", GS]))


# -- 1. same answer as biip --------------------------------------------------------------------
@examples
@given(data=scanned())
def test_the_fast_path_answers_exactly_as_biip(data: str) -> None:
    for options in ({}, {"allow_internal": False}):
        assert outcome(BarcodeParser(**options), data) == outcome(BarcodeParser(fast=False, **options), data), options


@examples
@given(ai=st.sampled_from(sorted(values_for)), data=st.data(), hri=st.booleans(), prefix=prefixes)
def test_each_field_valid_or_not_answers_as_biip(ai: str, data, hri: bool, prefix: str) -> None:
    """One field at a time next to a valid key, so each field's edge cases come up often."""
    key = ("00", sscc18("00614141000000001")) if ai == "01" else ("01", gtin14("0061414100000"))
    parts = data.draw(st.permutations([key, (ai, data.draw(values_for[ai]))]))
    raw = "".join(f"({a}){v}" for a, v in parts) if hri else prefix + element_string(parts, False, False)
    assert outcome(BarcodeParser(), raw) == outcome(BarcodeParser(fast=False), raw)


@examples
@given(parts=elements, gs_after_fixed=st.booleans(), drop_gs=st.booleans())
def test_a_substitute_separator_is_honoured_like_biip(parts, gs_after_fixed: bool, drop_gs: bool) -> None:
    data = "]C1" + element_string(parts, gs_after_fixed, drop_gs, sep="~")
    fast, reference = BarcodeParser(separator_chars=("~",)), BarcodeParser(separator_chars=("~",), fast=False)
    assert outcome(fast, data) == outcome(reference, data)


# -- 2. the fast path takes the common forms ---------------------------------------------------
valid = {
    "00": st.text("0123456789", min_size=17, max_size=17).map(sscc18),
    "01": st.text("0123456789", min_size=13, max_size=13).map(gtin14),
    "10": st.text(CSET82, min_size=1, max_size=20),
    "17": st.dates(dt.date(1990, 1, 1), dt.date(2060, 12, 31)).map(lambda d: d.strftime("%y%m%d")),
    "21": st.text(CSET82, min_size=1, max_size=20),
}
valid_elements = st.permutations(sorted(valid)).flatmap(
    lambda ais: st.integers(1, len(ais)).flatmap(
        lambda n: st.tuples(*(valid[ai].map(lambda v, ai=ai: (ai, v)) for ai in ais[:n]))))


@examples
@given(parts=valid_elements, gs_after_fixed=st.booleans())
def test_valid_handheld_element_strings_take_the_fast_path(parts, gs_after_fixed: bool) -> None:
    has_key = any(ai in ("00", "01") for ai, _ in parts)
    body = element_string(list(parts), gs_after_fixed, drop_gs=False)
    taken = gs1_fast.element_string(body, GS)
    hri = gs1_fast.human_readable("".join(f"({ai}){v}" for ai, v in parts))
    if not has_key:  # biip decides between no_item_key and an internal label
        assert taken is None and hri is None
        return
    assert taken is not None and taken[0] == dict(parts)
    if not any("(" in v or ")" in v for _, v in parts):
        assert hri is not None and hri[0] == dict(parts)


@examples
@given(body=st.one_of(st.text("0123456789", min_size=13, max_size=13).map(gtin14),
                      st.text("0123456789", min_size=12, max_size=12).map(gtin14),
                      st.text("0123456789", min_size=17, max_size=17).map(sscc18)))
def test_bare_keys_take_the_fast_path_only_with_a_right_check_digit(body: str) -> None:
    assert gs1_fast.bare_key_valid(body)
    assert not gs1_fast.bare_key_valid(wrong_check_digit(body))


# -- explicit cases ----------------------------------------------------------------------------
GTIN = gtin14("0061414112345")
SSCC = sscc18("10614141123456789")  # extension digit 1, then 16 digits


ODD = [  # (data, rejected by biip): data the fast path declines, so biip judges it
    (f"]d201{GTIN}21AB/c-9{GS}10LOT 1", True),  # space in a lot: outside set 82
    (f"]C101{GTIN}21{'S' * 21}", True),  # serial over 20 characters
    (f"]C101{wrong_check_digit(GTIN)}21X", True),
    (f"]C100{wrong_check_digit(SSCC)}", True),
    (f"]C101{GTIN}17{YEAR % 100:02d}0230", True),  # 30 February
    (f"]C101{GTIN}17{YEAR % 100:02d}1300", True),  # month 13
    (f"]C110LOT1{GS}17{YEAR % 100:02d}0101", True),  # no key
    (f"(01){GTIN}(21)", False),  # biip skips an AI without data
    (f"]C101{GTIN}21Caf\u00e9", True),
    (f"]C101{GTIN[:-1]}\u0663", True),  # Arabic-Indic digit as check digit
    (f"]C101{GTIN}21A{GS}21B", False),  # serial twice: biip keeps the last
    (f"(01){GTIN}(21)A B", False),  # biip drops whitespace from HRI text
    (f"(01){GTIN}(21)A(B", False),  # a parenthesis in HRI text
]


@pytest.mark.parametrize(("data", "rejected"), ODD)
def test_odd_data_is_declined_and_gets_biips_answer(data: str, rejected: bool) -> None:
    body = data[3:] if data.startswith("]") else data
    assert gs1_fast.element_string(body, GS) is None and gs1_fast.human_readable(body) is None
    answer = outcome(BarcodeParser(allow_internal=False), data)
    assert answer == outcome(BarcodeParser(allow_internal=False, fast=False), data)
    assert (answer[0] == "rejected") == rejected


def test_a_handheld_scan_is_read_field_by_field() -> None:
    parsed = BarcodeParser().parse(f"]Q317{YEAR % 100:02d}0200{GS}21ser-1{GS}01{GTIN}10L7")
    assert parsed.identity.item_key == f"01/{GTIN}/21/ser-1"
    assert (parsed.gtin, parsed.serial, parsed.lot, parsed.symbology) == (GTIN, "ser-1", "L7", "]Q3")
    assert parsed.expiry.month == 2 and parsed.expiry.day in (28, 29)  # day 00: the month's last day
    assert gs1_fast.element_string(f"17{YEAR % 100:02d}0200{GS}21ser-1{GS}01{GTIN}10L7", GS) is not None


def test_a_two_digit_year_lies_within_49_years_back_and_50_ahead() -> None:
    ahead, back = (YEAR + 50) % 100, (YEAR + 51) % 100
    parser = BarcodeParser()
    assert parser.parse(f"]C101{GTIN}17{ahead:02d}0101").expiry.year == YEAR + 50
    assert parser.parse(f"]C101{GTIN}17{back:02d}0101").expiry.year == YEAR + 51 - 100


def test_an_sscc_wins_over_a_gtin_and_the_check_digit_is_computed_not_copied() -> None:
    assert check_digit(SSCC[:-1]) == SSCC[-1]
    parsed = BarcodeParser().parse(f"(00){SSCC}(01){GTIN}")
    assert parsed.identity.item_key == f"00/{SSCC}" and parsed.gtin == GTIN


def test_a_separator_that_could_be_data_leaves_everything_to_biip() -> None:
    assert not gs1_fast.usable_separators((GS, "-"))
    assert gs1_fast.usable_separators((GS, "~"))
    data = f"]C101{GTIN}21AB-10LOT"
    assert outcome(BarcodeParser(separator_chars=("-",)), data) == outcome(BarcodeParser(separator_chars=("-",), fast=False), data)
    assert BarcodeParser(separator_chars=("-",)).parse(data).lot == "LOT"
