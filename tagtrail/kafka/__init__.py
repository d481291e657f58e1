"""Connecting to Kafka: client settings, topic layout, and the embedded evaluation cluster."""

from tagtrail.kafka.admin import TopicWaitStopped, ensure_topics
from tagtrail.kafka.clients import KafkaConnection, connect
from tagtrail.kafka.topics import Topics, TopicSpec

__all__ = ["KafkaConnection", "TopicSpec", "TopicWaitStopped", "Topics", "connect", "ensure_topics"]
