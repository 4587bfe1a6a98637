"""API bookkeeping: idempotency keys for POSTs that create something."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to a POST with a given Idempotency-Key, replayed for retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key", "path"], name="api_idempotency_unique")
        ]

    def __str__(self):
        return f"{self.key} {self.method} {self.path}"
