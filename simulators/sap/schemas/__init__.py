"""Schema subsets the simulator serves and validates with, derived from SAP's definitions
(see derive.py); their paths, so runtime code never imports the derivation tool."""

from pathlib import Path

HERE = Path(__file__).parent
METADATA_FILE = HERE / "API_OPLACCTGDOCITEMCUBE_SRV.subset.edmx"
CREATE_XSD_FILE = HERE / "JournalEntryCreateRequestConfirmation_In.subset.xsd"
CLEARING_XSD_FILE = HERE / "JournalEntryBulkClearingRequest_In.xsd"
BAPI_FILE = HERE / "BAPI_ACC_DOCUMENT_POST.subset.json"
