"""Source adapters of the vehicles domain."""
