"""Small shared helpers: the warehouse connection, raw-table contract, landing and HTTP paging."""
