"""The signed tokens in e-mails: one-click unsubscribe (user and kind) and tracked content links (the link's id).

Signed with the installation's secret key (django.core.signing), so a token cannot be forged or altered to name
another user or link; nothing about them is stored. Each kind of token has its own salt, so one cannot stand
in for the other.
"""

from __future__ import annotations

from django.core import signing

from tandem.core.errors import NotFound

_UNSUBSCRIBE_SALT = "tandem.integrations.mail.unsubscribe"
_LINK_SALT = "tandem.integrations.mail.link"


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    """The token of the unsubscribe link in a mail of `kind` to the user."""
    # No timestamp: the same user and mail always give the same link (the header and the footer agree, and an
    # old mail's link keeps working).
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign_object([user_id, kind])


def unsubscribe_token_read(*, token: str) -> tuple[int, str]:
    """(user id, kind) of an unsubscribe token; NotFound for a token that is not one of ours."""
    try:
        user_id, kind = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        raise NotFound("This unsubscribe link is not valid.", field="token", value=token[:40]) from None
    if not isinstance(user_id, int) or not isinstance(kind, str):
        raise NotFound("This unsubscribe link is not valid.", field="token", value=token[:40])
    return user_id, kind


def link_token(*, link_id: int) -> str:
    """The token of a tracked link (/l/<token>)."""
    return signing.Signer(salt=_LINK_SALT).sign(str(link_id))


def link_token_read(*, token: str) -> int:
    """The tracked link's id; NotFound for a token that is not one of ours."""
    try:
        raw = signing.Signer(salt=_LINK_SALT).unsign(token)
    except signing.BadSignature:
        raise NotFound("This link is not valid.", field="token", value=token[:40]) from None
    if not raw.isdigit():
        raise NotFound("This link is not valid.", field="token", value=token[:40])
    return int(raw)
