"""Who sends an EPCIS document to whom: one validated header for the JSON-LD and both XML forms.

Where each form carries it (read from GS1's schemas in shared/standards/epcis/):
- EPCIS 2.0 JSON-LD: `sender`, `receiver` and `instanceIdentifier` are plain strings at the EPCISDocument
  ROOT (EPCIS-Document-JSON-Schema.json, epcisDocument; the 2.0 context maps them to epcis:sender etc.).
  `epcisHeader` itself admits only `epcisMasterData` (and extension keys), so no SBDH goes there; the
  REST openapi.yaml adds nothing (it only says master data may travel in `epcisHeader`).
- EPCIS XML 2.0 and 1.2: EPCISHeader/sbdh:StandardBusinessDocumentHeader, whose Sender, Receiver and
  DocumentIdentification/InstanceIdentifier are all required. 2.0 makes the SBDH optional; 1.2 requires
  it in every EPCISHeader.

Identifiers a user may give for a party, all checked (GLN check digit by tagtrail/identity/gln.py):
- `urn:epc:id:sgln:...` kept as given; the SBDH names it with Authority "SGLN", the form the GS1 US
  DSCSA guideline uses for EPCIS 1.2 exchanges.
- a 13-digit GLN, `urn:epc:id:pgln:...`, `https://id.gs1.org/417/<gln>` or `https://id.gs1.org/414/<gln>`:
  the 13-digit GLN with Authority "GS1" (GS1's SBDH form).
The JSON-LD `sender`/`receiver` carry the same text as the SBDH Identifier, so both documents of one
export name the parties in the same words.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from epcpy.epc_schemes.pgln import PGLN
from epcpy.epc_schemes.sgln import SGLN
from epcpy.utils.common import ConvertException

from tagtrail.identity.gln import DIGITAL_LINK, Gs1KeyError, parse_gln

SGLN_URI = "urn:epc:id:sgln:"
PGLN_URI = "urn:epc:id:pgln:"


class DocumentHeaderError(ValueError):
    """A sender or receiver that is not a GLN or SGLN; the message names the role and the value."""


@dataclass(frozen=True)
class Party:
    """One side of the exchange as the SBDH names it: Identifier text and its Authority."""

    identifier: str
    authority: str  # "SGLN" for an SGLN URI, "GS1" for a 13-digit GLN


@dataclass(frozen=True)
class DocumentHeader:
    """Sender, receiver and the document's instance identifier, ready for either EPCIS syntax."""

    sender: Party
    receiver: Party
    instance_identifier: str

    def json_fields(self) -> dict[str, str]:
        """The EPCISDocument root fields of EPCIS 2.0 JSON-LD (not epcisHeader: the schema admits none there)."""
        return {"instanceIdentifier": self.instance_identifier, "sender": self.sender.identifier,
                "receiver": self.receiver.identifier}


def document_header(sender: str, receiver: str, *, instance_identifier: str | None = None,
                    new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> DocumentHeader:
    """The header naming `sender` and `receiver` (GLN, SGLN/PGLN URI or GS1 Digital Link 414/417), each
    checked; `instance_identifier` names this document (else `new_id()`, a UUID: unique per document,
    which SBDH asks of it). Raises DocumentHeaderError naming the role at fault."""
    return DocumentHeader(party(sender, "sender"), party(receiver, "receiver"),
                          instance_identifier if instance_identifier is not None else new_id())


def party(value: str, role: str = "party") -> Party:
    """One party identifier, checked and put in its SBDH form (module docstring)."""
    text = (value or "").strip()
    try:
        if text.startswith(SGLN_URI):
            parse_gln(_gs1_key(SGLN, text))
            return Party(text, "SGLN")
        if text.startswith(PGLN_URI):
            return Party(parse_gln(_gs1_key(PGLN, text)), "GS1")
        for ai in ("417/", "414/"):
            if text.startswith(DIGITAL_LINK + ai):
                rest = text[len(DIGITAL_LINK + ai):]
                if "/" in rest or "?" in rest:
                    raise Gs1KeyError("a Digital Link with an SGLN extension or query is not a party GLN: "
                                      "give the urn:epc:id:sgln: URI")
                return Party(parse_gln(rest), "GS1")
        return Party(parse_gln(text), "GS1")
    except Gs1KeyError as exc:
        raise DocumentHeaderError(
            f"{role} {value!r}: {exc} (give a 13-digit GLN, urn:epc:id:sgln:..., urn:epc:id:pgln:... "
            f"or {DIGITAL_LINK}417/<GLN>)") from exc


def _gs1_key(scheme: type[SGLN | PGLN], uri: str) -> str:
    try:
        return scheme(uri).gs1_key()
    except ConvertException as exc:
        raise Gs1KeyError(str(exc)) from exc
