"""KeyCare data plane. Plain Python: nothing under keycare.engine may import Django.

The same pipeline definition runs on every backend (DuckDB embedded, Spark distributed):
SQL is written once in the DuckDB dialect and rendered for each backend by SQLGlot.
"""
