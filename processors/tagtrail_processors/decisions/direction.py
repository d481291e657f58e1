"""Direction through a portal: the order in which its inner and outer antennas saw the item.

Inner then outer is outbound, outer then inner is inbound. Both the first and the last sighting
must agree; an item seen by one side only, or first on one side and last on the same side (it
turned back, or sat between the antennas), is `unknown` rather than guessed.
"""

from __future__ import annotations

INBOUND, OUTBOUND, UNKNOWN, NONE = "inbound", "outbound", "unknown", "none"


def crossing_direction(inner: tuple[int, int] | None, outer: tuple[int, int] | None) -> str:
    """`inner`/`outer`: (first seen, last seen) on that side during one crossing, or None."""
    if inner is None or outer is None:
        return UNKNOWN
    (i_first, i_last), (o_first, o_last) = inner, outer
    if i_first < o_first and i_last < o_last:
        return OUTBOUND
    if o_first < i_first and o_last < i_last:
        return INBOUND
    return UNKNOWN
