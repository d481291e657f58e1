"""EPC hex (from an RFID tag) to an Identity, per the GS1 EPC Tag Data Standard, via epcpy."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

from epcpy.utils.parsers import hex_to_tag_encodable

from tagtrail.events import Identity
from tagtrail.identity import item_key

_HEX = re.compile(r"^[0-9A-Fa-f]+$")
# Tag encodings tagtrail turns into GS1 keys; any other decodable EPC keeps its URI under 'unknown'.
_SCHEMES = {"SGTIN": "sgtin", "SSCC": "sscc", "SGLN": "sgln", "GRAI": "grai", "GIAI": "giai"}


class EpcError(ValueError):
    """An EPC that cannot even be kept raw (not hex, or an impossible length)."""


class EpcDecoder:
    """Decodes EPC hex with a per-instance cache.

    A portal reads the same few hundred tags over and over, and epcpy's decoding is slow next to
    the adapter's other work per read (docs/benchmarks.md): the cache keeps it off the hot path.
    """

    def __init__(self, cache_size: int = 65536) -> None:
        self.decode = lru_cache(maxsize=cache_size)(self._decode)

    def _decode(self, epc_hex: str) -> Identity:
        text = epc_hex.strip()
        if not text or not _HEX.match(text):
            raise EpcError(f"EPC {epc_hex!r} is not hexadecimal")
        if len(text) % 4:
            raise EpcError(f"EPC {epc_hex!r} has {len(text) * 4} bits; EPC lengths are multiples of 16 bits")
        text = text.upper()
        try:
            tag = hex_to_tag_encodable(text)
        except Exception:  # epcpy raises ConvertException/ValueError/IndexError on non-GS1 data
            return Identity(item_key=item_key.raw_epc_key(text), scheme="unknown")
        kind = _SCHEMES.get(type(tag).__name__)
        uri = tag.epc_uri
        if kind is None:
            return Identity(item_key=item_key.raw_epc_key(text), scheme="unknown", epc_uri=uri)
        parts = uri.rsplit(":", 1)[1].split(".")
        if kind == "sgtin":
            gtin = tag.gtin()
            serial = unquote(parts[2])
            return Identity(
                item_key=item_key.sgtin_key(gtin, serial), scheme=kind, epc_uri=uri, gtin=gtin, serial=serial
            )
        if kind == "sscc":
            sscc = tag.gs1_key()
            return Identity(item_key=item_key.sscc_key(sscc), scheme=kind, epc_uri=uri, sscc=sscc)
        if kind == "grai":
            return Identity(item_key=item_key.grai_key(tag.gs1_key()), scheme=kind, epc_uri=uri)
        if kind == "giai":
            return Identity(item_key=item_key.giai_key(tag.gs1_key()), scheme=kind, epc_uri=uri)
        return Identity(item_key=item_key.sgln_key(tag.gs1_key(), unquote(parts[2])), scheme=kind, epc_uri=uri)
