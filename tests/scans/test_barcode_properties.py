"""The shared GS1 parser, by property: every form a scanner emits names the same item, and no
input makes it raise anything but BarcodeError."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagtrail.identity import BarcodeError, BarcodeParser, EpcDecoder
from tests.scans.barcodes import GS, gtin14, renderings, sscc18, wrong_check_digit

# GS1 AI 21 allows "GS1 AI encodable character set 82": these printable ASCII characters.
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

gtins = st.text("0123456789", min_size=13, max_size=13).map(gtin14)
serials = st.text(CSET82, min_size=1, max_size=20)
quick = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(gtin=gtins, serial=serials)
def test_every_rendering_of_a_gtin_and_serial_names_the_same_item(gtin: str, serial: str) -> None:
    parser = BarcodeParser(allow_internal=False)
    keys = {form: parser.parse(raw).identity.item_key for form, raw in renderings(gtin, serial).items()}
    assert set(keys.values()) == {f"01/{gtin}/21/{serial}"}, keys


@quick
@given(gtin=gtins, serial=serials)
def test_a_wrong_check_digit_is_rejected_in_every_rendering(gtin: str, serial: str) -> None:
    parser = BarcodeParser()
    for form, raw in renderings(wrong_check_digit(gtin), serial).items():
        with pytest.raises(BarcodeError) as info:
            parser.parse(raw)
        assert info.value.reason == "bad_check_digit", form


@quick
@given(body=st.text("0123456789", min_size=17, max_size=17))
def test_sscc_forms_agree(body: str) -> None:
    sscc = sscc18(body)
    parser = BarcodeParser(allow_internal=False)
    for raw in (f"]C100{sscc}", f"(00){sscc}", sscc, f"https://id.gs1.org/00/{sscc}", f"]d200{sscc}{GS}02{gtin14('0' * 13)}"):
        assert parser.parse(raw).identity.item_key == f"00/{sscc}", raw


@settings(max_examples=400, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
    st.text(max_size=80),
    st.text(string.digits + "()]" + GS + "Cd12", max_size=60),
    st.builds(lambda p, s: p + s, st.sampled_from(["]C1", "]d2", "]Q3", "]E0", "(", "https://id.gs1.org/", "01", GS]),
              st.text(string.printable + GS, max_size=60)),
))
def test_arbitrary_input_raises_only_barcode_errors(data: str) -> None:
    for parser in (BarcodeParser(), BarcodeParser(allow_internal=False), BarcodeParser(separator_chars=("~",))):
        try:
            parsed = parser.parse(data)
        except BarcodeError as exc:
            assert exc.reason in {"empty", "unparseable", "bad_check_digit", "no_item_key"}
        else:
            assert parsed.identity.item_key


def test_a_barcode_and_an_rfid_tag_of_one_item_share_its_key() -> None:
    # EPC Tag Data Standard worked example: SGTIN-96 3074257BF7194E4000001A85 is GTIN 80614141123458, serial 6789.
    rfid = EpcDecoder().decode("3074257BF7194E4000001A85").item_key
    for raw in renderings("80614141123458", "6789").values():
        assert BarcodeParser().parse(raw).identity.item_key == rfid


def test_forms_without_serial_or_key() -> None:
    parser = BarcodeParser()
    gtin = gtin14("0061414112345")
    assert parser.parse(gtin[1:]).identity.item_key == f"01/{gtin}"  # EAN-13 on a retail item
    assert parser.parse(gtin[2:]).identity.scheme == "gtin"  # UPC-A
    with pytest.raises(BarcodeError) as info:
        parser.parse("]C110LOT1")
    assert info.value.reason == "no_item_key"
    with pytest.raises(BarcodeError) as info:
        parser.parse("]C1")
    assert info.value.reason == "empty"


def test_non_gs1_labels_are_internal_only_when_allowed() -> None:
    assert BarcodeParser().parse("]C0BIN-0042").identity.item_key == "internal/BIN-0042"
    assert BarcodeParser().parse("10ABC").identity.scheme == "internal"  # looks like AI 10, has no key
    with pytest.raises(BarcodeError):
        BarcodeParser(allow_internal=False).parse("BIN-0042")


def test_a_substitute_group_separator_splits_elements() -> None:
    gtin = gtin14("0061414112345")
    parsed = BarcodeParser(separator_chars=("~",)).parse(f"]C101{gtin}21SER~10LOT9")
    assert (parsed.serial, parsed.lot) == ("SER", "LOT9")
