import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
application = get_wsgi_application()

# Import every view now, at start-up, rather than in some unlucky visitor's first request to each worker.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
