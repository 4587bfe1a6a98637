"""Real-time moments from network signalling: the stream consumer and its operations."""
