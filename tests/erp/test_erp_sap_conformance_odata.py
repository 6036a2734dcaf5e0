"""The simulator's OData service against SAP's real $metadata of API_OPLACCTGDOCITEMCUBE_SRV.

Skipped with a message when SAP's reference folder is absent (see sap_sim_helpers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from lxml import etree
from sap_sim_helpers import CUBE, cube, reference_dir, session

from simulators.sap import SAPSimulator
from simulators.sap.schemas import derive

EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"


@pytest.fixture
def sim() -> Iterator[SAPSimulator]:
    with SAPSimulator() as simulator:
        simulator.seed_open_item("1010", "17100001", Decimal("1190.00"), "EUR", "INV-1", "INV-1")
        simulator.seed_open_item("2910", "17100002", Decimal("1000"), "JPY", "INV-2", "INV-2")
        yield simulator


def real_edmx() -> bytes:
    return (reference_dir() / derive.REAL_EDMX).read_bytes()


def test_served_metadata_is_exactly_the_derivation_of_sap_metadata() -> None:
    assert derive.derive_metadata(real_edmx()) == derive.METADATA_FILE.read_bytes(), (
        "the subset differs from SAP's $metadata: regenerate it with "
        "`python -m simulators.sap.schemas.derive ../shared/reference/sap`"
    )


def test_every_entity_set_type_and_property_exists_identically_in_sap_metadata() -> None:
    real = etree.fromstring(real_edmx())
    served = etree.fromstring(derive.METADATA_FILE.read_bytes())
    real_sets = {s.get("Name"): dict(s.attrib) for s in real.iter(f"{EDM}EntitySet")}
    for entity_set in served.iter(f"{EDM}EntitySet"):
        assert real_sets[entity_set.get("Name")] == dict(entity_set.attrib)
    real_types = {t.get("Name"): t for t in real.iter(f"{EDM}EntityType")}
    served_properties = 0
    for entity_type in served.iter(f"{EDM}EntityType"):
        twin = real_types[entity_type.get("Name")]
        assert dict(twin.attrib) == dict(entity_type.attrib)
        real_key = [r.get("Name") for r in twin.find(f"{EDM}Key")]
        assert [r.get("Name") for r in entity_type.find(f"{EDM}Key")] == real_key
        real_props = {p.get("Name"): dict(p.attrib) for p in twin.iter(f"{EDM}Property")}
        for prop in entity_type.iter(f"{EDM}Property"):
            assert real_props[prop.get("Name")] == dict(prop.attrib), prop.get("Name")
            served_properties += 1
    assert served_properties == len(derive.SERVED_PROPERTIES)


def _model(xml: bytes) -> object:
    from pyodata.v2.model import Config, MetadataBuilder, PolicyIgnore

    return MetadataBuilder(xml, config=Config(default_error_policy=PolicyIgnore())).build()


def _describe(entity_set: object, names: list[str]) -> dict[str, tuple[object, ...]]:
    entity_type = entity_set.entity_type  # type: ignore[attr-defined]
    out = {}
    for name in names:
        prop = entity_type.proprty(name)
        out[name] = (
            prop.typ.name,
            prop.nullable,
            prop.max_length,
            prop.precision,
            prop.scale,
            prop.uncode,
            prop.label,
            prop.filterable,
            prop.sortable,
        )
    return out


def test_pyodata_builds_the_same_model_from_the_simulator_as_from_sap(sim: SAPSimulator) -> None:
    served_xml = session().get(f"{sim.base_url}{CUBE}$metadata").content
    served = _model(served_xml).entity_set("A_OperationalAcctgDocItemCube")  # type: ignore[attr-defined]
    real = _model(real_edmx()).entity_set("A_OperationalAcctgDocItemCube")  # type: ignore[attr-defined]
    names = [p.name for p in served.entity_type.proprties()]
    assert sorted(names) == sorted(derive.SERVED_PROPERTIES)
    assert _describe(served, names) == _describe(real, names)
    assert [k.name for k in served.entity_type.key_proprties] == [
        k.name for k in real.entity_type.key_proprties
    ]
    assert served.name == real.name and served.entity_type.name == real.entity_type.name


def test_every_value_served_fits_its_type_in_sap_metadata(sim: SAPSimulator) -> None:
    real = etree.fromstring(real_edmx())
    types = {p.get("Name"): p for p in real.iter(f"{EDM}Property")}
    rows = cube(sim).json()["d"]["results"]
    assert len(rows) == 4
    for row in rows:
        for name, value in row.items():
            if name == "__metadata" or value is None:
                continue
            prop = types[name]
            edm = prop.get("Type")
            if edm == "Edm.String":
                assert isinstance(value, str) and len(value) <= int(prop.get("MaxLength")), name
            elif edm == "Edm.DateTime":
                assert re.fullmatch(r"/Date\(-?\d+\)/", value), name
            elif edm == "Edm.Time":
                assert re.fullmatch(r"PT\d{2}H\d{2}M\d{2}S", value), name
            elif edm == "Edm.Boolean":
                assert isinstance(value, bool), name
            elif edm == "Edm.Decimal":
                number = Decimal(value)  # a string, never a JSON number
                scale = int(prop.get("Scale"))
                assert -number.as_tuple().exponent <= scale, name
                assert len(number.as_tuple().digits) <= int(prop.get("Precision")), name
            else:
                pytest.fail(f"{name}: type {edm} not expected")
