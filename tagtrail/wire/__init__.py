"""How events become bytes on Kafka: Avro binary in one of two framings.

- Avro single-object encoding (marker C3 01, 8-byte CRC-64-AVRO fingerprint, body) when no schema
  registry is configured; writer schemas are published to a compacted Kafka topic so readers that
  do not know a newer schema can still fetch it (see schema_store).
- Confluent's wire format (magic 0, 4-byte schema id, body) with a schema registry.
The decoder accepts both, so a site can switch without draining its topics.
"""

from tagtrail.wire.codec import Codec, DecodeError, codec_for
from tagtrail.wire.schemas import EVENT_TYPES, SchemaRef, bundled_schema

__all__ = ["Codec", "DecodeError", "codec_for", "EVENT_TYPES", "SchemaRef", "bundled_schema"]
