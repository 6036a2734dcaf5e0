"""Derive the simulator's schema subsets from SAP's real definitions (a developer tool).

SAP's files in ``../shared/reference/sap/`` may not be copied into the project, so the simulator
serves *subsets* written by this module: only the entity set/properties and the SOAP elements it
models, each kept exactly as SAP declares it (names, types, lengths, order, cardinality). The
conformance tests re-run this derivation against the real files and require byte-equal output,
so a hand edit of a subset, or a subset that drifts from SAP's definition, fails a test.

Regenerate: ``python -m simulators.sap.schemas.derive ../shared/reference/sap``
"""

from __future__ import annotations

import sys
from pathlib import Path

from simulators.sap.schemas import BAPI_FILE, CREATE_XSD_FILE, METADATA_FILE

REAL_EDMX = "API_OPLACCTGDOCITEMCUBE_SRV.edmx"
REAL_BAPI = (
    "BAPI_ACC_DOCUMENT_POST.parameters.yaml",
    "BAPI_ACC_DOCUMENT_POST.fields.yaml",
    "BAPI_ACC_DOCUMENT_POST.alpha.yaml",
)
REAL_WSDL = "JOURNALENTRYCREATEREQUESTCONFI.wsdl"

EDMX = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM = "http://schemas.microsoft.com/ado/2008/09/edm"
XS = "http://www.w3.org/2001/XMLSchema"

# The properties of A_OperationalAcctgDocItemCubeType the simulator fills, in SAP's order.
SERVED_PROPERTIES = frozenset(
    [
        "CompanyCode",
        "FiscalYear",
        "AccountingDocument",
        "AccountingDocumentItem",
        "CompanyCodeName",
        "ClearingDate",
        "ClearingCreationDate",
        "ClearingAccountingDocument",
        "IsCleared",
        "PostingKey",
        "FinancialAccountType",
        "SpecialGLCode",
        "DebitCreditCode",
        "AssignmentReference",
        "DocumentItemText",
        "GLAccount",
        "Customer",
        "CustomerName",
        "DueCalculationBaseDate",
        "PaymentMethod",
        "PaymentBlockingReason",
        "PaymentDifferenceReason",
        "ClearingDocFiscalYear",
        "FiscalPeriod",
        "PostingDate",
        "DocumentDate",
        "AccountingDocumentType",
        "NetDueDate",
        "CompanyCodeCurrency",
        "AmountInCompanyCodeCurrency",
        "TransactionCurrency",
        "AmountInTransactionCurrency",
        "AccountingDocumentCreationDate",
        "CreationTime",
        "LastChangeDate",
        "AccountingDocCreatedByUser",
        "DocumentReferenceID",
        "AccountingDocumentHeaderText",
        "ExchangeRate",
        "OriginalReferenceDocument",
        "IsReversal",
        "IsReversed",
    ]
)

# For these complex types only the listed child elements are kept (order stays SAP's); every
# other type reachable from the two root elements is kept whole.
KEPT_ELEMENTS: dict[str, frozenset[str]] = {
    "BusinessDocumentMessageHeader": frozenset(
        [
            "ID",
            "UUID",
            "ReferenceID",
            "ReferenceUUID",
            "CreationDateTime",
            "TestDataIndicator",
            "SenderBusinessSystemID",
            "RecipientBusinessSystemID",
        ]
    ),
    "JournalEntryCreateRequestJournalEntry": frozenset(
        [
            "OriginalReferenceDocumentType",
            "OriginalReferenceDocument",
            "OriginalReferenceDocumentLogicalSystem",
            "BusinessTransactionType",
            "AccountingDocumentType",
            "DocumentReferenceID",
            "DocumentHeaderText",
            "CreatedByUser",
            "CompanyCode",
            "DocumentDate",
            "PostingDate",
            "PostingFiscalPeriod",
            "ExchangeRateDate",
            "ExchangeRate",
            "Reference1InDocumentHeader",
            "Reference2InDocumentHeader",
            "Item",
            "DebtorItem",
        ]
    ),
    "JournalEntryCreateRequestJournalEntryItem": frozenset(
        [
            "ReferenceDocumentItem",
            "CompanyCode",
            "GLAccount",
            "AmountInTransactionCurrency",
            "AmountInCompanyCodeCurrency",
            "DebitCreditCode",
            "DocumentItemText",
            "ReasonCode",
            "AssignmentReference",
            "ValueDate",
            "Reference1IDByBusinessPartner",
            "Reference2IDByBusinessPartner",
            "AccountAssignment",
        ]
    ),
    "JournalEntryCreateRequestJournalEntryItemAccountAssignment": frozenset(
        ["ProfitCenter", "Segment", "CostCenter"]
    ),
    "JournalEntryCreateRequestJournalEntryDebtorItem": frozenset(
        [
            "ReferenceDocumentItem",
            "Debtor",
            "AmountInTransactionCurrency",
            "AmountInCompanyCodeCurrency",
            "DebitCreditCode",
            "DocumentItemText",
            "AssignmentReference",
            "Reference1IDByBusinessPartner",
            "Reference2IDByBusinessPartner",
        ]
    ),
    "LogItem": frozenset(["TypeID", "SeverityCode", "Note"]),
}
# BAPI_ACC_DOCUMENT_POST: the parameters and structure fields the simulator reads or answers.
SERVED_BAPI_FIELDS: dict[str, tuple[str, ...]] = {
    "BAPIACHE09": tuple(
        [
            "OBJ_TYPE",
            "OBJ_KEY",
            "OBJ_SYS",
            "BUS_ACT",
            "USERNAME",
            "HEADER_TXT",
            "COMP_CODE",
            "DOC_DATE",
            "PSTNG_DATE",
            "TRANS_DATE",
            "FISC_YEAR",
            "FIS_PERIOD",
            "DOC_TYPE",
            "REF_DOC_NO",
            "AC_DOC_NO",
        ]
    ),
    "BAPIACGL09": tuple(
        [
            "ITEMNO_ACC",
            "GL_ACCOUNT",
            "ITEM_TEXT",
            "ACCT_TYPE",
            "DOC_TYPE",
            "COMP_CODE",
            "FIS_PERIOD",
            "FISC_YEAR",
            "PSTNG_DATE",
            "VALUE_DATE",
            "CUSTOMER",
            "ALLOC_NMBR",
            "COSTCENTER",
            "PROFIT_CTR",
            "DE_CRE_IND",
        ]
    ),
    "BAPIACAR09": tuple(
        [
            "ITEMNO_ACC",
            "CUSTOMER",
            "GL_ACCOUNT",
            "COMP_CODE",
            "BLINE_DATE",
            "PYMT_METH",
            "PMNT_BLOCK",
            "ALLOC_NMBR",
            "ITEM_TEXT",
            "PROFIT_CTR",
        ]
    ),
    "BAPIACCR09": tuple(
        ["ITEMNO_ACC", "CURR_TYPE", "CURRENCY", "CURRENCY_ISO", "AMT_DOCCUR", "EXCH_RATE"]
    ),
    "BAPIRET2": tuple(
        [
            "TYPE",
            "ID",
            "NUMBER",
            "MESSAGE",
            "LOG_NO",
            "LOG_MSG_NO",
            "MESSAGE_V1",
            "MESSAGE_V2",
            "MESSAGE_V3",
            "MESSAGE_V4",
            "PARAMETER",
            "ROW",
            "FIELD",
            "SYSTEM",
        ]
    ),
}
SERVED_BAPI_PARAMETERS = [
    "DOCUMENTHEADER",
    "ACCOUNTGL",
    "ACCOUNTRECEIVABLE",
    "CURRENCYAMOUNT",
    "RETURN",
    "OBJ_TYPE",
    "OBJ_KEY",
    "OBJ_SYS",
]
ROOT_ELEMENTS = ("JournalEntryBulkCreateConfirmation", "JournalEntryBulkCreateRequest")


def derive_metadata(real_edmx: bytes) -> bytes:
    """The cube's $metadata reduced to the served properties (no vocabulary annotations)."""
    from lxml import etree

    real = etree.fromstring(real_edmx)
    schema = real.find(f".//{{{EDM}}}Schema")
    out = etree.Element(real.tag, real.attrib, nsmap=real.nsmap)
    services = real.find(f"{{{EDMX}}}DataServices")
    out_services = etree.SubElement(out, services.tag, services.attrib)
    out_schema = etree.SubElement(out_services, schema.tag, schema.attrib, nsmap=schema.nsmap)
    for entity_type in schema.findall(f"{{{EDM}}}EntityType"):
        out_type = etree.SubElement(out_schema, entity_type.tag, entity_type.attrib)
        out_type.append(_copy(entity_type.find(f"{{{EDM}}}Key")))
        for prop in entity_type.findall(f"{{{EDM}}}Property"):
            if prop.get("Name") in SERVED_PROPERTIES:
                out_type.append(_copy(prop))
    for container in schema.findall(f"{{{EDM}}}EntityContainer"):
        out_container = etree.SubElement(out_schema, container.tag, container.attrib)
        for entity_set in container.findall(f"{{{EDM}}}EntitySet"):
            out_container.append(_copy(entity_set))
    return _serialise(out)


def derive_create_xsd(real_wsdl: bytes) -> bytes:
    """The WSDL's schema reduced to the elements of KEPT_ELEMENTS and the types they reach."""
    from lxml import etree

    schema = etree.fromstring(real_wsdl).find(f".//{{{XS}}}schema")
    by_name = {child.get("name"): child for child in schema if child.get("name")}
    kept: dict[str, object] = {}
    pending = [by_name[name] for name in ROOT_ELEMENTS]
    while pending:
        node = _copy(pending.pop())
        if node.tag == f"{{{XS}}}complexType" and node.get("name") in KEPT_ELEMENTS:
            allowed = KEPT_ELEMENTS[node.get("name")]
            for element in list(node.iter(f"{{{XS}}}element")):
                if element.get("name") not in allowed:
                    element.getparent().remove(element)
        kept[f"{node.tag}|{node.get('name')}"] = node
        for ref in _type_refs(node):
            target = by_name.get(ref)
            queued = any(p.get("name") == ref for p in pending)
            if target is not None and f"{target.tag}|{ref}" not in kept and not queued:
                pending.append(target)
    out = etree.Element(schema.tag, schema.attrib, nsmap=schema.nsmap)
    for child in schema:  # SAP's order
        key = f"{child.tag}|{child.get('name')}"
        if key in kept:
            out.append(kept[key])
    return _serialise(out)


def derive_bapi(parameters_yaml: str, fields_yaml: str, alpha_yaml: str) -> bytes:
    """Parameters, field types/lengths and conversion exits of the served BAPI subset (JSON)."""
    import json

    import yaml

    parameters = yaml.safe_load(parameters_yaml)["BAPI_ACC_DOCUMENT_POST"]
    fields = yaml.safe_load(fields_yaml)
    exits = yaml.safe_load(alpha_yaml)["rfm"]["BAPI_ACC_DOCUMENT_POST"]
    out: dict[str, dict[str, object]] = {"parameters": {}, "structures": {}}
    for name in SERVED_BAPI_PARAMETERS:
        spec = parameters[name]
        entry = {
            "class": spec["PARAMCLASS"],
            "kind": spec["paramType"],  # struct, table or var (a field of "structure")
            "required": bool(spec.get("required")),
            "structure": spec["TABNAME"],
            "conversion": exits.get(name, {}),
        }
        if spec.get("FIELDNAME"):
            entry["field"] = spec["FIELDNAME"]
        out["parameters"][name] = entry
    for structure, names in SERVED_BAPI_FIELDS.items():
        out["structures"][structure] = {
            name: {
                "type": fields[structure][name]["format"]["DATATYPE"],
                "length": fields[structure][name]["format"]["LENG"],
                "decimals": fields[structure][name]["format"].get("DECIMALS", 0),
            }
            for name in names
        }
    for entry in out["parameters"].values():
        if entry["kind"] != "var":
            served = set(SERVED_BAPI_FIELDS[entry["structure"]])
            entry["conversion"] = {k: v for k, v in entry["conversion"].items() if k in served}
    return (json.dumps(out, indent=1, sort_keys=True) + "\n").encode()


def _type_refs(node: object) -> set[str]:
    refs = set()
    for child in node.iter():  # type: ignore[attr-defined]
        for attr in ("type", "base"):
            value = child.get(attr)
            if value and not value.startswith("xsd:"):
                refs.add(value.split(":")[-1])
    return refs


def _copy(node: object) -> object:
    import copy

    return copy.deepcopy(node)


def _serialise(node: object) -> bytes:
    from lxml import etree

    etree.indent(node, space=" ")
    return etree.tostring(node, xml_declaration=True, encoding="utf-8") + b"\n"


def main(reference: str) -> None:
    folder = Path(reference)
    METADATA_FILE.write_bytes(derive_metadata((folder / REAL_EDMX).read_bytes()))
    CREATE_XSD_FILE.write_bytes(derive_create_xsd((folder / REAL_WSDL).read_bytes()))
    texts = [(folder / name).read_text() for name in REAL_BAPI]
    BAPI_FILE.write_bytes(derive_bapi(*texts))
    print(f"wrote {METADATA_FILE.name}, {CREATE_XSD_FILE.name} and {BAPI_FILE.name}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/sap")
