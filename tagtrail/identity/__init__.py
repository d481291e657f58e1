"""GS1 identities: EPCs from RFID tags and GS1 barcodes, both resolved to one item key.

Used by the ingest adapters, by `tagtrail decode`, and by the query commands that accept any
identity form, so it is shared library code rather than a stage's internals.
"""

from tagtrail.identity.barcode import BarcodeError, BarcodeParser, ParsedBarcode
from tagtrail.identity.epc import EpcDecoder, EpcError
from tagtrail.identity.resolve import IdentityError, resolve_any

__all__ = [
    "BarcodeError",
    "BarcodeParser",
    "EpcDecoder",
    "EpcError",
    "IdentityError",
    "ParsedBarcode",
    "resolve_any",
]
