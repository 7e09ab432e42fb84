"""Request-level events (tagged API calls) and workflow outcome events, from files in the landing folder."""
