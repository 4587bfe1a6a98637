"""Schemathesis against the app's own OpenAPI schema (/api/schema/), once per role.

In-process through the WSGI app (no server, no network). For every operation, at least
``EXAMPLES`` generated requests are sent with the role's token; each response must not be a
server error and must conform to the schema (body, content type, headers). Status codes the
schema does not list (400/403/404/409 from the one error format) are allowed: the schema
documents the successful responses. Clear numbers in responses are reported to the session
output scan (tests/conftest.py) too.

Marked ``hostile``: run once (the SQLite run). Measured duration: see docs/security.md.
"""

import os
from urllib.parse import urlsplit

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)

from conftest import ROLE_USERS  # tests/security/conftest.py

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]
# At least 100 (issue #6); raise it locally with KEYCARE_HOSTILE_EXAMPLES for a longer soak.
EXAMPLES = max(100, int(os.environ.get("KEYCARE_HOSTILE_EXAMPLES", "100")))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.mark.parametrize("role_user", list(ROLE_USERS))
def test_every_operation_survives_generated_requests(world, role_user, pytestconfig):
    auth = {"Authorization": f"Token {world.tokens[role_user]}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), headers=auth)
    scanner = pytestconfig.pluginmanager.get_plugin("keycare_output_scan")
    failures, calls = {}, {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:
        calls[operation.label] = 0
        try:
            _fuzz(operation, auth, calls, scanner, role_user, world.users[role_user])
        except (Exception, BaseExceptionGroup) as error:  # collect all operations' failures
            failures[operation.label] = f"{type(error).__name__}: {str(error)[:1500]}"
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
    short = {label: n for label, n in calls.items() if n < EXAMPLES}
    assert not short, f"fewer than {EXAMPLES} examples: {short}"


def _fuzz(operation, auth, calls, scanner, role_user, user):
    label = operation.label

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        calls[label] += 1
        response = case.call(headers=auth)
        path = urlsplit(response.request.url or "").path
        request = (response.request.method, path, response.status_code)
        scanner.scan(f"schemathesis {role_user} {label}", response.text, user, request)
        case.validate_response(response, checks=CHECKS)

    run()
