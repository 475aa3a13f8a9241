"""Static files storage: WhiteNoise's compressed manifest storage, falling back to plain names before collectstatic.

`tandem collectstatic` writes every file under a name with its content's hash (app.3f2a9c1b7e4d.css) plus gzip
and brotli copies, and WhiteNoise answers hashed names with `Cache-Control: max-age=315360000, public,
immutable`: a browser fetches a file once per change. Without collectstatic (development, the test suite) there
is no manifest; Django's manifest storage would then refuse to render any page, so the plain name is used and
WhiteNoise serves it from the app folders with its short default cache (60 s).
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            # No manifest at all: collectstatic never ran into STATIC_ROOT.
            return name
        # A manifest without this file (added since the last collectstatic) is an error, as Django's own storage
        # says: a page would otherwise link a name the deployed files lack.
        return str(super().stored_name(name))
