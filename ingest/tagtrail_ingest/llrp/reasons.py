"""The reason codes of the LLRP adapter's dead letters, each naming one fault.

A dead letter's reason is what an operator filters on and what metrics count
(`tagtrail_dead_letters_total{stage="ingest.llrp",reason=...}`), so one code never covers two
faults; the error text then says which parameter, byte or value. docs/ingest-llrp.md lists
the same codes (tests/llrp/test_dead_letter_reasons.py keeps the two in step).
"""

from __future__ import annotations

MALFORMED_FRAME = "malformed_frame"
UNKNOWN_PARAMETER = "unknown_parameter"
MISSING_EPC = "missing_epc"
BAD_EPC = "bad_epc"
UNKNOWN_ANTENNA = "unknown_antenna"
UNEXPECTED_MESSAGE = "unexpected_message"
BROKEN_FRAMING = "broken_framing"
TRUNCATED_FRAME = "truncated_frame"
UNHANDLED_REPORT = "unhandled_report"

# code -> what it means (docs/ingest-llrp.md's table says the same, with what happens to the link)
REASONS = {
    MALFORMED_FRAME: "a frame with a sound header whose body does not decode: a parameter shorter than its "
                     "header, longer than its parent, cut short, or of a TV type LLRP does not define",
    UNKNOWN_PARAMETER: "a parameter type LLRP 1.0.1 does not define (the read is kept)",
    MISSING_EPC: "a tag report entry without an EPC-96 or EPCData parameter",
    BAD_EPC: "an EPC that is not a valid EPC: wrong length, or a declared bit length its bytes do not match",
    UNKNOWN_ANTENNA: "an AntennaID the site config does not list, or none where the reader declares no default",
    UNEXPECTED_MESSAGE: "a message sllurp's client could not apply in the state it arrived",
    BROKEN_FRAMING: "a header with a bad version or length: no next frame can be found",
    TRUNCATED_FRAME: "the link ended inside a frame",
    UNHANDLED_REPORT: "a whole RO_ACCESS_REPORT behind a message that ended the link before it was handled",
}
