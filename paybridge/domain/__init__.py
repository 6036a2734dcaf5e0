"""Domain types shared by the core, the connectors and the pure reconciliation engine.

The bottom layer: modules here import nothing else from this project (enforced by the
import-linter contracts in ``pyproject.toml``), so ``connectors/`` and ``reconciliation/`` can
use them without depending on the application, the store or Airflow.
"""
