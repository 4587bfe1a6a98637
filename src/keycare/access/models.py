"""Permissions of the access layer that belong to no stored data.

``UnmaskRight`` is never stored (unmanaged, no table): it only carries the Django permission
``access.unmask_personal_data`` — "see one customer's personal data in clear, with a typed
reason". No role's group is granted it by default; a security officer grants it per user
(see docs/security.md, "Unmasking"). ``access.cti_clear_numbers`` lets the outbound-call
system (CTI role) receive its call list with the numbers in clear, audited per request.
"""

from django.db import models


class UnmaskRight(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("unmask_personal_data", "Unmask one customer's personal data (with a reason)"),
            ("cti_clear_numbers", "Receive the CTI call list with numbers in clear (CTI)"),
        ]

    def __str__(self):
        return "unmask right"
