import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
application = get_wsgi_application()

# Import every view now, at start-up, rather than in some unlucky visitor's first request to each worker.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018

# What the first requests would otherwise pay for, paid once here (before gunicorn forks its workers, as
# gunicorn_conf.py preloads this module): the libraries imported on first use (scipy, scikit-learn: see
# core/lazy.py) and every template compiled into the cached loader.
from tandem.core.lazy import deferred_import_all  # noqa: E402


def _templates_compile() -> None:
    from pathlib import Path

    from django.template import TemplateSyntaxError, engines
    from django.template.utils import get_app_template_dirs

    engine = engines["django"]
    for directory in [*map(Path, engine.dirs), *get_app_template_dirs("templates")]:
        for path in sorted(directory.rglob("*.html")):
            try:
                engine.get_template(str(path.relative_to(directory)))
            except TemplateSyntaxError:  # e.g. a third-party app's partial meant for another engine
                continue


deferred_import_all()
_templates_compile()

# The warm-up may have opened database connections; a forked worker must not share the parent's socket.
from django.db import connections  # noqa: E402

connections.close_all()

# Everything imported so far lives as long as the process: move it out of the garbage collector's sight. Without
# this, each full collection walks the few million objects numpy, scipy and scikit-learn leave behind, and the
# request that triggers it waits (measured: p99 of capture posts 100 ms, max 360 ms; after: see benchmarks.md).
import gc  # noqa: E402

gc.collect()
gc.freeze()
