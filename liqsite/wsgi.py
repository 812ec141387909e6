"""WSGI entry point (gunicorn liqsite.wsgi). Each worker warms its minute-bucket reader in a background
thread as it starts (``bucketread.warm_in_background``), so no visitor's first depth request pays the parse."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liqsite.settings")

application = get_wsgi_application()

from liquidation.bucketread import warm_in_background  # noqa: E402 - needs the settings configured above
from liquidation.conf import get_buckets  # noqa: E402

warm_in_background(get_buckets())
