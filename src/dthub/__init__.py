"""dthub: a city's digital transport hub (数字交通中枢)."""

__version__ = "0.1.0"
