"""The messaging tests' real Kannel gateway, for the real-time SMS path."""

from messaging.conftest import gateway, receipts, sender  # noqa: F401
