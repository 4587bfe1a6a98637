"""KeyCare: key-moment service and key-account management for a mobile operator."""

__version__ = "0.1.0"
