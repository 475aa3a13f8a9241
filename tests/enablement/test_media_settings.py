"""TANDEM_MEDIA_DIR and TANDEM_ENABLEMENT_MAX_UPLOAD_BYTES, read in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import django, json; django.setup(); from django.conf import settings;"
    "print(json.dumps({'media': str(settings.MEDIA_ROOT), 'max': settings.ENABLEMENT_MAX_UPLOAD_BYTES}))"
)


def _probe(tmp_path: Path, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    full.update({"DJANGO_SETTINGS_MODULE": "tandem.settings", "TANDEM_VAR_DIR": str(tmp_path / "var")}, **env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, cwd=tmp_path, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_uploads_default_to_var_media_and_25_mib(tmp_path):
    assert _probe(tmp_path) == {"media": str((tmp_path / "var" / "media").resolve()), "max": 25 * 1024 * 1024}


def test_the_media_folder_and_the_upload_limit_come_from_the_environment(tmp_path):
    got = _probe(tmp_path, TANDEM_MEDIA_DIR=str(tmp_path / "uploads"), TANDEM_ENABLEMENT_MAX_UPLOAD_BYTES="1000")
    assert got == {"media": str((tmp_path / "uploads").resolve()), "max": 1000}
