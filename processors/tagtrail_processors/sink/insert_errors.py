"""Which ClickHouse failures mean "this data is wrong" and which mean "try again later".

Only errors about the data itself may send rows to dead letters; every other failure (connection
refused, timeouts, too many parts, memory, unknown codes) is retried, holding offsets, because
skipping data on a transient error would lose it.
"""

from __future__ import annotations

import re

# ClickHouse error codes raised for input the server will never accept, however often it is sent.
DATA_ERROR_CODES = {
    6,  # CANNOT_PARSE_TEXT
    26,  # CANNOT_PARSE_QUOTED_STRING
    27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,  # ATTEMPT_TO_READ_AFTER_EOF
    33,  # CANNOT_READ_ALL_DATA
    38,  # CANNOT_PARSE_DATE
    41,  # CANNOT_PARSE_DATETIME
    53,  # TYPE_MISMATCH
    69,  # ARGUMENT_OUT_OF_BOUND
    70,  # CANNOT_CONVERT_TYPE
    72,  # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    131,  # TOO_LARGE_STRING_SIZE
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    469,  # VIOLATED_CONSTRAINT
    1001,  # STD_EXCEPTION: raised by the Avro decoder (avro::Exception) for corrupt records
}
_CODE = re.compile(r"(?:Code:|code:)\s*(\d+)")


def error_code(exc: BaseException) -> int | None:
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def is_data_error(exc: BaseException) -> bool:
    code = error_code(exc)
    if code != 1001:
        return code in DATA_ERROR_CODES
    # STD_EXCEPTION is also what some I/O failures surface as; only the Avro decoder's counts as data.
    return "avro::Exception" in str(exc)


def server_message(exc: BaseException, limit: int = 2000) -> str:
    return " ".join(str(exc).split())[:limit]
