"""The contract a delivery is checked against: contract.yaml's files, with every file marked
``extends_from_catalog`` extended by the catalog's raw fields for it.

Its own module because it needs both halves: ``fields`` validates the catalog against the
core contract (``contract``), and this combines the two.
"""

from __future__ import annotations

import functools
from pathlib import Path

from keycare.catalog.contract import ColumnSpec, Contract, FileSpec, load_core_contract
from keycare.catalog.fields import load_catalog


def load_contract(
    path: str | Path | None = None, catalog_path: str | Path | None = None
) -> Contract:
    """The contract with ``extends_from_catalog`` files extended by the catalog's raw fields.

    The default load (no arguments) is cached; treat the result as read-only.
    """
    if path is None and catalog_path is None:
        return _load_default_contract()
    return _load_contract(path, catalog_path)


@functools.lru_cache(maxsize=1)
def _load_default_contract() -> Contract:
    return _load_contract(None, None)


def _load_contract(path, catalog_path) -> Contract:
    core = load_core_contract(path)
    if not any(spec.extends_from_catalog for spec in core.files.values()):
        return core
    catalog = load_catalog(catalog_path, contract_path=path)
    files = {}
    for name, spec in core.files.items():
        if spec.extends_from_catalog:
            extra = {
                f.column: _column_from_field(f)
                for f in catalog.fields
                if f.extended and f.source == name
            }
            spec = FileSpec(
                name=spec.name,
                description=spec.description,
                key=spec.key,
                columns={**spec.columns, **extra},
                format=spec.format,
                extends_from_catalog=True,
                optional=spec.optional,
            )
        files[name] = spec
    return Contract(version=core.version, files=files)


def _column_from_field(f) -> ColumnSpec:
    return ColumnSpec(
        name=f.column,
        type=f.type,
        required=False,
        personal=f.personal,
        enum=f.enum,
        range=f.range,
        unit=f.unit,
        description=f"{f.zh}: {f.description}",
        extended=True,
    )
