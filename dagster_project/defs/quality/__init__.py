"""Great Expectations 1.x suites (repo `expectations/`) run as Dagster asset checks on raw tables and marts."""
