"""`tagtrail decode`: what is this tag or barcode? A support tool for people on the floor."""

from __future__ import annotations

import argparse
import json

import msgspec

from tagtrail.identity import BarcodeError, BarcodeParser, EpcDecoder, EpcError, resolve_any
from tagtrail.identity.resolve import IdentityError
from tagtrail_cli.user_errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "decode",
        help="decode an EPC (hex or URI) or a GS1 barcode and print the identity as JSON",
        description="Decode an EPC hex string, an EPC pure-identity URI, a GS1 barcode (element string, "
        "human-readable form, Digital Link URI, GTIN, SSCC) or an item key, and print what tagtrail "
        "understands of it as JSON. Use \\x1d or <GS> for the group separator when typing.",
    )
    p.add_argument("value", help="EPC hex, urn:epc:id:..., barcode data or item key")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    text = args.value.replace("<GS>", "\x1d").replace("\\x1d", "\x1d")
    out: dict = {"input": args.value}
    try:
        if _looks_like_barcode(text):
            parsed = BarcodeParser().parse(text)
            out.update(kind="barcode", identity=msgspec.to_builtins(parsed.identity), symbology=parsed.symbology,
                       elements=parsed.elements, lot=parsed.lot,
                       expiry=parsed.expiry.isoformat() if parsed.expiry else None)
        else:
            identity = resolve_any(text, epc=EpcDecoder(), barcodes=BarcodeParser())
            out.update(kind="epc" if identity.epc_uri or identity.item_key.startswith("epc/") else "identity",
                       identity=msgspec.to_builtins(identity))
    except (BarcodeError, EpcError, IdentityError) as exc:
        raise UserError(f"cannot decode {args.value!r}: {exc}") from exc
    print(json.dumps(out, indent=2))
    return 0


def _looks_like_barcode(text: str) -> bool:
    return text.startswith(("]", "(", "http://", "https://")) or "\x1d" in text or (text.isdigit() and len(text) != 24)
