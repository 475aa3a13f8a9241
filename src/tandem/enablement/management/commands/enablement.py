"""`tandem enablement expired|upload`: assets past (or near) their expiry per owner; add a file to the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import TandemError
from tandem.users.models import User


class Command(BaseCommand):
    help = "Content library: list expired assets by owner, or upload a file as an asset."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        expired = sub.add_parser("expired", help="assets whose expiry date has passed (or is within --within days), as JSON")
        expired.add_argument("--within", type=int, default=0, help="also list assets expiring within this many days")
        expired.add_argument("--notify", action="store_true", help="first tell owners of newly expired assets (as the hourly task does)")
        upload = sub.add_parser("upload", help="add a local file to the library (type, content and size are checked)")
        upload.add_argument("path")
        upload.add_argument("--title", required=True)
        upload.add_argument("--kind", required=True, help="case_study, brochure, deck, video, blog_post or battle_card")
        upload.add_argument("--owner", default="", help="username of the owner")
        upload.add_argument("--expires-on", default=None, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "expired":
                self._expired(options)
            else:
                self._upload(options)
        except TandemError as exc:
            raise CommandError(exc.message) from exc

    def _expired(self, options: dict[str, Any]) -> None:
        # Imported here, not at the top (as in _upload): they bring numpy and django-ninja, which `--help` skips.
        from tandem.enablement.selectors import assets_expired_by_owner, today_local
        from tandem.enablement.services import assets_expiry_notify

        today = today_local()
        notified = assets_expiry_notify(today=today) if options["notify"] else 0
        rows = [
            {
                "id": a.pk, "title": a.title, "expires_on": a.expires_on.isoformat() if a.expires_on else None,
                "expired": bool(a.expires_on and a.expires_on < today), "owner": a.owner.username if a.owner else None,
            }
            for a in assets_expired_by_owner(today=today, within_days=max(0, options["within"]))
        ]
        self.stdout.write(json.dumps({"today": today.isoformat(), "notified": notified, "assets": rows}, indent=2))

    def _upload(self, options: dict[str, Any]) -> None:
        from tandem.enablement.services import asset_create

        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        owner = None
        if options["owner"]:
            owner = User.objects.filter(username=options["owner"]).first()
            if owner is None:
                raise CommandError(f"no user named {options['owner']!r}")
        upload = SimpleUploadedFile(path.name, path.read_bytes())
        asset = asset_create(
            title=options["title"], kind=options["kind"], upload=upload, by_user=None,
            owner_id=owner.pk if owner else None, expires_on=options["expires_on"],
        )  # fmt: skip
        self.stdout.write(f"added asset {asset.pk}: {asset.title} ({asset.original_name}, {asset.size_bytes} bytes)")
