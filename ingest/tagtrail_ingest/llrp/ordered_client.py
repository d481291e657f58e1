"""sllurp's LLRP client with a stop sequence that registers each reply's callback before sending.

sllurp (3.0.5) sends DELETE_ACCESSSPEC and only then registers the callback that sends
DELETE_ROSPEC; a reply handled in between found no callback, so DELETE_ROSPEC was never sent and
the ROSpec stayed on the reader (seen in 3 of 10 polite stops). Here the callback and the state
come first. A reader that refuses DELETE_ACCESSSPEC (one without AccessSpec support) still gets
its ROSpecs deleted, and a stop during setup drops the setup steps still waiting for their replies
(sllurp would go on to enable the ROSpec it was adding, and miss the stop's own reply in the state
that left it in): a stop always ends with the reader clean.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sllurp.llrp import LLRPClient, LLRPReaderState

log = structlog.get_logger(__name__)

Completion = Callable[..., None]  # (state, is_success, *args), sllurp's deferred signature


class OrderedLLRPClient(LLRPClient):
    def stopPolitely(self, onCompletion: Completion | None = None, disconnect: bool = False) -> None:  # noqa: N802, N803
        if disconnect:
            self.disconnecting = True
            self._deferreds.clear()  # nothing begun before the stop goes on after it

        def access_specs_deleted(state: int, is_success: bool, *args: object) -> None:
            if not is_success:
                log.warning("llrp_delete_accessspec_refused", note="deleting the ROSpecs anyway")
            self.stopAllROSpecs(onCompletion)

        self._deferreds["DELETE_ACCESSSPEC_RESPONSE"].append(access_specs_deleted)
        self.setState(LLRPReaderState.STATE_SENT_DELETE_ACCESSSPEC)
        self.sendMessage({"DELETE_ACCESSSPEC": {"AccessSpecID": 0}})  # 0: all of them

    def stopAllROSpecs(self, onCompletion: Completion | None = None) -> None:  # noqa: N802, N803
        def rospecs_deleted(state: int, is_success: bool, *args: object) -> None:
            if not is_success:
                log.warning("llrp_delete_rospec_refused")
            if onCompletion is not None:
                onCompletion(state, is_success, *args)

        self._deferreds["DELETE_ROSPEC_RESPONSE"].append(rospecs_deleted)
        self.setState(LLRPReaderState.STATE_SENT_DELETE_ROSPEC)
        self.sendMessage({"DELETE_ROSPEC": {"ROSpecID": 0}})  # 0: all of them
