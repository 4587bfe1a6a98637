import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
application = get_wsgi_application()

from keycare.web.warmup import warm_up  # noqa: E402 -- needs the app registry set up above

warm_up()
