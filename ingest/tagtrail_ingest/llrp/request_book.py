"""Which request a reader's message answers, by message id (pure: no I/O).

LLRP answers a request with its response or an ERROR_MESSAGE, both carrying the request's message
id. sllurp (3.0.5) ignores the id and takes whatever comes next as the answer to the request its
state machine waits for, so a reader that answers ENABLE_EVENTS_AND_REPORTS (which LLRP defines no
response for) with an ERROR_MESSAGE made sllurp read that error as the answer to SET_READER_CONFIG,
and setup failed on every connect. The link notes each request it sends here and asks what each
incoming message answers before sllurp sees it.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass

from tagtrail_ingest.llrp import frames


class Answer(enum.Enum):
    RESPONSE = "response"  # the response a pending request expects
    PROBE = "probe"  # the answer (response or error) to a liveness probe
    REFUSED_REQUEST = "refused_request"  # an ERROR_MESSAGE instead of a request's response
    REFUSED_OPTIONAL = "refused_optional"  # an ERROR_MESSAGE about a message LLRP defines no response for
    STRAY_ERROR = "stray_error"  # an ERROR_MESSAGE naming no message this link sent
    OTHER = "other"  # reports, events, keepalives, and anything not matched above


@dataclass(frozen=True)
class Match:
    answer: Answer
    request_type: int | None = None


class RequestBook:
    """One per link, used on the link's thread only."""

    def __init__(self, max_unanswered: int = 64) -> None:
        self.max_unanswered = max_unanswered
        self._awaiting: OrderedDict[int, int] = OrderedDict()  # message id -> request type, an answer is due
        self._no_response: OrderedDict[int, int] = OrderedDict()  # id -> type, no response is due
        self._probes: OrderedDict[int, None] = OrderedDict()

    def sent(self, data: bytes) -> None:
        """Notes every request in an outgoing chunk (call before the bytes go out: a reply can be fast)."""
        pos = 0
        while len(data) - pos >= frames.HEADER_LEN:
            word, length, msg_id = frames.HEADER.unpack_from(data, pos)
            msg_type = word & 0x03FF
            if msg_type in frames.NO_RESPONSE:
                self._remember(self._no_response, msg_id, msg_type)
            else:  # every other client message is a request (custom ones included: Impinj's extensions)
                self._remember(self._awaiting, msg_id, msg_type)
            pos += max(length, frames.HEADER_LEN)

    def probe_sent(self, msg_id: int) -> None:
        self._remember(self._probes, msg_id, None)

    def received(self, frame: bytes) -> Match:
        msg_type, msg_id = frames.message_type(frame), frames.message_id(frame)
        if msg_id in self._probes and msg_type in (frames.ERROR_MESSAGE, frames.GET_READER_CONFIG_RESPONSE):
            del self._probes[msg_id]
            return Match(Answer.PROBE, frames.GET_READER_CONFIG)
        if msg_type == frames.ERROR_MESSAGE:
            if msg_id in self._awaiting:
                return Match(Answer.REFUSED_REQUEST, self._awaiting.pop(msg_id))
            if msg_id in self._no_response:
                return Match(Answer.REFUSED_OPTIONAL, self._no_response.pop(msg_id))
            return Match(Answer.STRAY_ERROR)
        request = self._awaiting.get(msg_id)
        if request is not None and frames.RESPONSES.get(request) == msg_type:
            del self._awaiting[msg_id]
            return Match(Answer.RESPONSE, request)
        return Match(Answer.OTHER)

    def _remember(self, book: OrderedDict, msg_id: int, value: int | None) -> None:
        book[msg_id] = value
        while len(book) > self.max_unanswered:
            book.popitem(last=False)
