"""Country codes, once: ISO 3166-1 alpha-2 (the 249 officially assigned codes) and the 27 EU
Member States, with the request types that accept them.

Taken from the IANA time zone database's iso3166.tab. A report's suspected state may be any
assigned code (it may concern a state outside the EU); an indicator's assessing authority and a
report's competent authority are EU Member States. Codes are written as ISO writes them: "de"
is refused, not rewritten (docs/api.md, "Types"); EL, the EU's own code for Greece, is accepted
where a Member State is asked for and stored as ISO's GR.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

_ASSIGNED_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
ZW
"""
_EU_CODES = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"

ISO_3166_ALPHA_2: frozenset[str] = frozenset(_ASSIGNED_CODES.split())
EU_MEMBER_STATES: frozenset[str] = frozenset(_EU_CODES.split())

_MEMBER_STATE_ALIASES = {"EL": "GR"}


def _assigned(value: str) -> str:
    if value not in ISO_3166_ALPHA_2:
        raise ValueError(f"{value!r} is not an assigned ISO 3166-1 alpha-2 code")
    return value


def _member_state(value: str) -> str:
    code = _MEMBER_STATE_ALIASES.get(value, value)
    if code not in EU_MEMBER_STATES:
        raise ValueError(f"{value!r} is not the ISO 3166-1 alpha-2 code of an EU Member State")
    return code


CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_assigned),
    Field(json_schema_extra={"enum": sorted(ISO_3166_ALPHA_2)}),
]
MemberState = Annotated[
    str,
    AfterValidator(_member_state),
    Field(json_schema_extra={"enum": sorted(EU_MEMBER_STATES | set(_MEMBER_STATE_ALIASES))}),
]
