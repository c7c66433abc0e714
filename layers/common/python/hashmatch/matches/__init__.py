"""Match events: the record kept of each match (never of a query that did not match)."""
