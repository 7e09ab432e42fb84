"""The price book kept current from the price database: the proposing asset, its schedule, the cross-check."""
