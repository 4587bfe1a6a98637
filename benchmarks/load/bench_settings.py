"""Settings for the load benchmark: production behaviour, served over plain HTTP on localhost.

Starts from the production settings (``KEYCARE_PRODUCTION=1``, DEBUG off, HSTS etc.) and
changes only what plain HTTP on 127.0.0.1 and one load generator require:

- secure cookies and the HTTPS redirect are off: without TLS the client would never send a
  ``Secure`` session cookie back (in production, TLS ends at the reverse proxy);
- the token login throttle (20/min per client address) is raised: all 100 virtual users
  come from 127.0.0.1, where in production they come from 100 addresses;
- PostgreSQL's JIT compiler is off for the application's connections: it spent 200-330 ms
  compiling each dashboard aggregate, more than the aggregate itself (a deployment setting
  we recommend for the web application; batch jobs may keep it).
"""

import os

os.environ.setdefault("KEYCARE_PRODUCTION", "1")
os.environ.setdefault("KEYCARE_SSL_REDIRECT", "0")
os.environ.setdefault("KEYCARE_SECRET_KEY", "load-benchmark-only-not-a-secret-" + "x" * 32)
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/keycare_bench")

from keycare.config.settings import *  # noqa: E402,F403
from keycare.config.settings import DATABASES, REST_FRAMEWORK  # noqa: E402

DEBUG = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "1000/min"},
}
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
