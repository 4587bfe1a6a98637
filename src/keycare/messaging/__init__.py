"""SMS sending: the outbox, the gateway client, the worker and receipts."""
