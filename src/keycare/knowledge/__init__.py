"""The service knowledge graph: customers, needs, causes, tactics, outcomes."""
