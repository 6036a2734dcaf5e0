"""SAP T100 messages the simulator raises (class, number, text with &1..&4 placeholders).

Texts follow SAP's message texts as documented in the README; where the number is not
confirmed from an SAP source the README says so.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXTS: dict[tuple[str, str], str] = {
    ("F5", "117"): "Check whether document has already been entered under reference &1",
    ("F5", "153"): "G/L account &1 is not defined in company code &2",
    ("F5", "155"): "Customer &1 is not defined in company code &2",
    ("F5", "165"): "Company code &1 is not defined",
    ("F5", "201"): "Posting period &1 &2 is not open",
    ("F5", "231"): "Line item &1: enter an amount",
    ("F5", "250"): "Item &1 &2 is already cleared",
    ("F5", "263"): "The difference is too large for clearing",
    ("F5", "312"): "Document &1 was posted in company code &2",
    ("F5", "351"): "Account &1 in company code &2 is blocked for posting",
    ("F5", "702"): "Balance in transaction currency &1",
    ("FINS_FI_POSTING_IF", "017"): "Amount balance in company code currency must be zero (&1)",
    ("F5", "703"): "A document needs at least two line items",
    ("F5", "800"): "Item &1 &2 (fiscal year &3) does not exist",
    ("F5", "808"): "Account type &1 in line &2 is not supported",
    ("BK", "119"): "Amount &1 &2 has more than &3 decimal places",
    ("SG", "105"): "Enter rate &1 / &2 rate type &3 for &4 in the system settings",
    ("RW", "605"): "Document posted successfully: &1 &2 &3",
    ("RW", "609"): "Error in document: &1 &2 &3",
    ("RW", "614"): "Document check without errors",
    ("RW", "021"): "Document &1 &2 &3 already exists",
    ("FF", "818"): "No open items found for customer &1 in company code &2",
}


@dataclass(frozen=True)
class Message:
    """One BAPIRET2-like message: TYPE (S/I/W/E/A), ID (class), NUMBER, MESSAGE and V1..V4."""

    type: str
    id: str
    number: str
    text: str
    variables: tuple[str, ...] = ()
    field: str = ""


def msg(kind: str, cls: str, number: str, *variables: object) -> Message:
    values = tuple(str(v) for v in variables)
    text = TEXTS[(cls, number)]
    for index, value in enumerate(values, start=1):
        text = text.replace(f"&{index}", value)
    return Message(kind, cls, number, text, values)
