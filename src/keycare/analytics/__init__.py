"""The indicator layer, the analyses, the analyst's workbench and reports."""
