"""GS1 location keys: a GLN (check digit checked by biip) and an SGLN (GLN + extension, built by epcpy).

The EPC URI `urn:epc:id:sgln:CompanyPrefix.LocationRef.Extension` splits the GLN at its company
prefix, whose length the GLN digits do not carry: it comes from the site's `company.company_prefix`
when the GLN starts with it, else from GS1's prefix table that biip ships; when neither knows it,
building the URI fails with a message asking for company_prefix. Extension "0" means "no extension"
(EPC TDS): the GS1 Digital Link of such an SGLN is /414/<gln> alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from biip import ParseError
from biip.gln import Gln, GS1CompanyPrefix
from epcpy.epc_schemes.sgln import SGLN
from epcpy.utils.common import ConvertException

NO_EXTENSION = "0"
DIGITAL_LINK = "https://id.gs1.org/"


class Gs1KeyError(ValueError):
    """A GLN, company prefix or SGLN extension that is not valid; the message says why."""


def parse_gln(value: str) -> str:
    """The GLN if it has 13 digits and a correct GS1 mod-10 check digit."""
    if len(value) != 13 or not value.isdigit():
        raise Gs1KeyError(f"a GLN is 13 digits, got {value!r}")
    try:
        return Gln.parse(value).value
    except ParseError as exc:
        raise Gs1KeyError(str(exc)) from exc


def company_prefix_length(gln: str, company_prefix: str | None) -> int:
    if company_prefix and gln.startswith(company_prefix):
        return len(company_prefix)
    known = GS1CompanyPrefix.extract(gln)
    if known is None:
        raise Gs1KeyError(f"the company prefix of GLN {gln} is unknown: give company.company_prefix")
    return len(known.value)


@dataclass(frozen=True)
class Sgln:
    """A location identified by GLN and extension ("0" = the GLN's location itself)."""

    gln: str
    extension: str = NO_EXTENSION
    prefix_length: int = 7

    @classmethod
    def of(cls, gln: str, extension: str | None, company_prefix: str | None) -> Sgln:
        gln = parse_gln(gln)
        sgln = cls(gln, extension or NO_EXTENSION, company_prefix_length(gln, company_prefix))
        sgln.epc_uri()  # refuses an extension that is not GS1 AI 254 (GS3A3 chars, at most 20)
        return sgln

    def epc_uri(self) -> str:
        try:
            return SGLN.from_gs1_element_string(f"(414){self.gln}(254){self.extension}", self.prefix_length).epc_uri
        except ConvertException as exc:
            raise Gs1KeyError(f"SGLN extension {self.extension!r} is not valid (at most 20 of GS1's AI 254 characters)"
                              ) from exc

    def digital_link(self) -> str:
        link = f"{DIGITAL_LINK}414/{self.gln}"
        return link if self.extension == NO_EXTENSION else f"{link}/254/{quote(self.extension, safe='')}"
