"""Satisfaction surveys: templates, survey tasks, answers and the satisfaction index."""
