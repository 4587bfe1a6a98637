"""The managers' work (plans, visits, reminders, assigned tasks, KPI assessment) lives here.

The manager as a person, and each user's staff profile, are ``keycare.org.models.Manager``
and ``StaffProfile``; this app's first migration created them under the managers label and
its second handed them to the org app without touching their tables.
"""
