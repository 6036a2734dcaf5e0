"""The simulator's SOAP-RFC BAPIs against SAP's dump of BAPI_ACC_DOCUMENT_POST.

Skipped with a message when SAP's reference folder is absent (see sap_sim_helpers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml
from sap_sim_helpers import (
    RFC,
    bapi_post_body,
    reference_dir,
    rfc_call,
    rfc_return,
    session,
    soap_envelope,
)

from simulators.sap import SAPSimulator
from simulators.sap.rfc import bapi_interface
from simulators.sap.schemas import derive


@pytest.fixture
def sim() -> Iterator[SAPSimulator]:
    with SAPSimulator(system="ECC") as simulator:
        yield simulator


def test_bapi_subset_is_exactly_the_derivation_of_sap_dump() -> None:
    texts = [(reference_dir() / name).read_text() for name in derive.REAL_BAPI]
    assert derive.derive_bapi(*texts) == derive.BAPI_FILE.read_bytes()


def test_served_field_lengths_agree_with_the_s4_interface_too() -> None:
    """The 2019 S/4HANA types-only interface gives the same lengths for every served field."""
    source = (reference_dir() / "ZIF_BAPI_ACC_DOCUMENT_POST.intf.abap").read_text()
    elementary = {m[0]: int(m[1]) for m in re.findall(r"(\w+) type [CN] length (\d+) \.", source)}
    for structure, fields in bapi_interface()["structures"].items():
        block = re.search(rf"begin of {structure},(.*?)end of {structure}", source, re.S)
        assert block, structure
        types = dict(re.findall(r"(\w+) type (\w+),", block.group(1)))
        for name, column in fields.items():
            assert name in types, f"{structure}-{name} missing in the S/4 interface"
            if column["type"] in ("CHAR", "NUMC") and types[name] in elementary:
                assert elementary[types[name]] == column["length"], f"{structure}-{name}"


def test_return_rows_have_bapiret2_fields_in_dump_order_and_lengths(sim: SAPSimulator) -> None:
    fields = yaml.safe_load((reference_dir() / derive.REAL_BAPI[1]).read_text())["BAPIRET2"]
    answer = session().post(
        f"{sim.base_url}{RFC}",
        data=soap_envelope(
            rfc_call("BAPI_ACC_DOCUMENT_POST", bapi_post_body(customer="0017100009"))
        ),
        headers={"Content-Type": "text/xml"},
    )
    rows = rfc_return(answer)
    assert len(rows) >= 2
    for row in rows:
        assert list(row) == list(fields)
        for name, value in row.items():
            assert len(value) <= fields[name]["format"]["LENG"], name


def test_account_fields_carry_the_alpha_exit_in_the_dump() -> None:
    exits = yaml.safe_load((reference_dir() / derive.REAL_BAPI[2]).read_text())["rfm"]
    post = exits["BAPI_ACC_DOCUMENT_POST"]
    assert post["ACCOUNTGL"]["GL_ACCOUNT"] == "ALPHA"
    assert post["ACCOUNTRECEIVABLE"]["CUSTOMER"] == "ALPHA"
    served = bapi_interface()["parameters"]
    assert served["ACCOUNTGL"]["conversion"]["GL_ACCOUNT"] == "ALPHA"


def test_rfc_rejects_a_value_longer_than_the_dump_allows(sim: SAPSimulator) -> None:
    length = bapi_interface()["structures"]["BAPIACHE09"]["HEADER_TXT"]["length"]
    assert length == 25
    body = bapi_post_body().replace(
        "<BUS_ACT>", f"<HEADER_TXT>{'x' * (length + 1)}</HEADER_TXT><BUS_ACT>"
    )
    answer = session().post(
        f"{sim.base_url}{RFC}",
        data=soap_envelope(rfc_call("BAPI_ACC_DOCUMENT_CHECK", body)),
        headers={"Content-Type": "text/xml"},
    )
    assert answer.status_code == 500 and b"HEADER_TXT" in answer.content
