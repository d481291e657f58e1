"""One item key whether an item was read by RFID or scanned, per the GS1 standards."""

from __future__ import annotations

import pytest

from tagtrail.identity import BarcodeError, BarcodeParser, EpcDecoder, EpcError, resolve_any
from tagtrail.identity.resolve import IdentityError

# Worked example of the EPC Tag Data Standard.
TDS_HEX = "3074257BF7194E4000001A85"
TDS_URI = "urn:epc:id:sgtin:0614141.812345.6789"
TDS_KEY = "01/80614141123458/21/6789"


def test_sgtin96_decodes_to_uri_gtin_and_serial() -> None:
    identity = EpcDecoder().decode(TDS_HEX)
    assert identity.epc_uri == TDS_URI
    assert identity.gtin == "80614141123458"
    assert identity.serial == "6789"
    assert identity.item_key == TDS_KEY
    assert EpcDecoder().decode(TDS_HEX.lower()) == identity


def test_sscc96_uses_the_sscc_as_key() -> None:
    identity = EpcDecoder().decode("3174257BF4499602D2000000")
    assert identity.scheme == "sscc"
    assert identity.item_key == f"00/{identity.sscc}"
    assert len(identity.sscc) == 18


def test_non_gs1_epc_is_kept_raw_never_dropped() -> None:
    identity = EpcDecoder().decode("E2801160600002054CC2096F")
    assert identity.scheme == "unknown"
    assert identity.item_key == "epc/E2801160600002054CC2096F"


@pytest.mark.parametrize("bad", ["", "XYZ", "3074257BF7194E4000001A8"])
def test_impossible_epcs_are_errors(bad: str) -> None:
    with pytest.raises(EpcError):
        EpcDecoder().decode(bad)


@pytest.mark.parametrize(
    "scan",
    [
        "]d201806141411234582167 89".replace(" ", ""),
        "]C1018061414112345821" + "6789" + "\x1d10LOT7",
        "(01)80614141123458(21)6789",
        "https://id.gs1.org/01/80614141123458/21/6789",
    ],
)
def test_barcodes_and_rfid_share_one_item_key(scan: str) -> None:
    assert BarcodeParser().parse(scan).identity.item_key == TDS_KEY


def test_barcode_elements_are_extracted() -> None:
    parsed = BarcodeParser().parse("]d2018061414112345821ABC\x1d10LOT1\x1d17271231")
    assert (parsed.gtin, parsed.serial, parsed.lot, parsed.expiry.isoformat()) == (
        "80614141123458", "ABC", "LOT1", "2027-12-31"
    )
    assert parsed.symbology == "]d2"


def test_bad_check_digit_is_named() -> None:
    with pytest.raises(BarcodeError) as info:
        BarcodeParser().parse("(01)80614141123459(21)6789")
    assert info.value.reason == "bad_check_digit"


def test_internal_barcodes_only_when_allowed() -> None:
    assert BarcodeParser().parse("BIN-0042").identity.item_key == "internal/BIN-0042"
    with pytest.raises(BarcodeError):
        BarcodeParser(allow_internal=False).parse("BIN-0042")


@pytest.mark.parametrize("form", [TDS_HEX, TDS_URI, TDS_KEY, "(01)80614141123458(21)6789"])
def test_any_identity_form_resolves_to_the_same_item(form: str) -> None:
    assert resolve_any(form).item_key == TDS_KEY


def test_unresolvable_identity_says_why() -> None:
    with pytest.raises(IdentityError, match="not an EPC, pure-identity URI, item key or GS1 barcode"):
        resolve_any("hello world")


def test_truncated_epc_hex_says_why_it_is_not_an_epc() -> None:
    truncated = TDS_HEX[:-1]
    with pytest.raises(IdentityError) as info:
        resolve_any(truncated)
    message = str(info.value)
    assert "not an EPC: 23 hex digits (92 bits), 1 digit short of a 96-bit EPC" in message
    assert "an EPC is 96 bits = 24 hex digits" in message
    assert "not a GS1 barcode" in message  # and why it is no barcode either
