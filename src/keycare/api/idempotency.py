"""Idempotency-Key support for POSTs that create something (retries never create twice).

A view mixin: the first response to (user, key, path) is stored with a hash of the request
body; a retry with the same key and body gets the stored response; the same key with a
different body is refused with 422.
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from keycare.api.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 128


def _request_hash(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


class IdempotentCreateMixin:
    """Mix into a DRF view; wraps ``create`` (POST)."""

    def create(self, request, *args, **kwargs):
        key = request.META.get(HEADER)
        if not key:
            return super().create(request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationError({"Idempotency-Key": ["无效的幂等键 invalid key"]})
        digest = _request_hash(request)
        previous = IdempotencyRecord.objects.filter(
            user=request.user, key=key, path=request.path
        ).first()
        if previous is not None:
            return self._replay(previous, digest)
        with transaction.atomic():
            response = super().create(request, *args, **kwargs)
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        user=request.user,
                        key=key,
                        method=request.method,
                        path=request.path,
                        request_hash=digest,
                        status_code=response.status_code,
                        response_body=response.data,
                    )
            except IntegrityError:
                # A concurrent retry won the race: undo ours and replay theirs.
                transaction.set_rollback(True)
                previous = IdempotencyRecord.objects.get(
                    user=request.user, key=key, path=request.path
                )
                return self._replay(previous, digest)
        return response

    @staticmethod
    def _replay(previous: IdempotencyRecord, digest: str) -> Response:
        if previous.request_hash != digest:
            return Response(
                {
                    "error": {
                        "code": "idempotency_key_reused",
                        "message": "该幂等键已用于不同的请求 Idempotency-Key reused with a different body",
                        "details": {},
                    }
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        response = Response(previous.response_body, status=previous.status_code)
        response["Idempotent-Replayed"] = "true"
        return response
