"""Complaint and consultation texts: the cause taxonomy and the classifier."""
