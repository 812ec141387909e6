"""The liqsite Django project: settings, root URLs, WSGI."""
