"""The real-time moments on Spark Structured Streaming (issue 22): the same contract and the same
``Detector`` as the embedded Redis consumer, compiled into one streaming query."""
