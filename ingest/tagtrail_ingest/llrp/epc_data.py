"""Keeps the EPC's declared bit length that sllurp's EPCData decoder throws away.

LLRP's EPCData parameter (LLRP 1.0.1, 16.2.7.3.1) carries EPCLengthBits and then the bits. sllurp
(3.0.5) decodes it to the hex of the bytes alone, so a tag report declaring a 90-bit EPC in 12 bytes
reads exactly like an SGTIN-96, and the adapter would publish a read of an item the tag never named.
sllurp has no hook per client, only its parameter table (`llrp_proto.Param_struct`), looked up at
decode time; registering a decoder there is how sllurp itself is extended. The decoded value stays a
`bytes` of hex digits (what the rest of sllurp and `tag_reads` expect), with the declared length on it.
"""

from __future__ import annotations

import struct
from binascii import hexlify

from sllurp import llrp_proto


class EpcHex(bytes):
    """The EPC as hex digits (like sllurp's value), plus the bit length the reader declared."""

    length_bits: int

    def __new__(cls, hex_digits: bytes, length_bits: int) -> EpcHex:
        value = super().__new__(cls, hex_digits)
        value.length_bits = length_bits
        return value


def decode_epc_data(data: bytes, name: str | None = None) -> tuple[bytes, str]:
    """Same result as sllurp's decode_EPCData, with EPCLengthBits kept (a short parameter stays sllurp's)."""
    if len(data) < 2:
        return hexlify(data), ""
    (length_bits,) = struct.unpack_from("!H", data)
    return EpcHex(hexlify(data[2:]), length_bits), ""


def keep_epc_bit_length() -> None:
    """Registers `decode_epc_data` for EPCData (idempotent; sllurp's other parameters are untouched)."""
    llrp_proto.Param_struct["EPC"]["decode"] = decode_epc_data


def declared_length_problem(raw_epc: object) -> str | None:
    """Why an EPCData's declared bit length disagrees with the bytes it carries, else None."""
    length_bits = getattr(raw_epc, "length_bits", None)
    if length_bits is None:
        return None  # EPC-96 (fixed 96 bits) or a value sllurp decoded itself
    carried_bits = len(raw_epc) * 4  # hex digits
    if length_bits != carried_bits:
        return (f"EPCData declares {length_bits} bits but carries {carried_bits} bits "
                f"({carried_bits // 8} bytes); no EPC is {length_bits} bits long in {carried_bits // 8} bytes")
    return None
