"""Typed events that flow between stages; one Avro schema in schemas/tagtrail_schemas/avro/ each.

Timestamps are integer microseconds since the Unix epoch, UTC, as Avro's timestamp-micros stores
them: the hot paths never build datetime objects they would only take apart again.
"""

from tagtrail.events.business_transaction import BusinessTransaction, PartyOrPlace
from tagtrail.events.dead_letter import DeadLetter
from tagtrail.events.identity import Identity
from tagtrail.events.item_master import ItemMaster
from tagtrail.events.movement import Movement
from tagtrail.events.scan import Scan
from tagtrail.events.tag_read import TagRead

__all__ = [
    "BusinessTransaction", "DeadLetter", "Identity", "ItemMaster", "Movement", "PartyOrPlace", "Scan", "TagRead",
]
