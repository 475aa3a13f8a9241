import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
application = get_wsgi_application()

# Import every view now, at start-up, rather than in some unlucky visitor's first request to each worker.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018

# Everything imported so far lives as long as the process: move it out of the garbage collector's sight. Without
# this, each full collection walks the few million objects numpy, scipy and scikit-learn leave behind, and the
# request that triggers it waits (measured: p99 of capture posts 100 ms, max 360 ms; after: see benchmarks.md).
import gc  # noqa: E402

gc.collect()
gc.freeze()
