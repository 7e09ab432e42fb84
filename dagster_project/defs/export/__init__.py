"""The FinOps FOCUS export as files: written after each build whose checks passed (dagster_project/export)."""
