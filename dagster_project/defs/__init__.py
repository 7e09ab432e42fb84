"""Every Dagster definition of tokenspend, one folder per source; loaded by `definitions.py`."""
