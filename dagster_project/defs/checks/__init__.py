"""Asset checks that read the marts: attribution coverage and, later, data quality suites."""
