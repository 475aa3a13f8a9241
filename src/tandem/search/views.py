"""Search pages: the suggestions under the header's search box (HTMX, as you type) and the full results page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tandem.core.errors import TandemError
from tandem.search import selectors

# Hits per kind: a few under the box, more on the page, the most when the page shows one kind.
SUGGEST_LIMIT = 5
PAGE_LIMIT = 10
KIND_PAGE_LIMIT = selectors.MAX_LIMIT


@login_required
def search_suggest(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    if not q.strip():
        # An emptied box closes the list.
        return HttpResponse("")
    context: dict[str, object] = {"q": q.strip()}
    status = 200
    try:
        context["results"] = selectors.search(q=q, user=request.user, limit=SUGGEST_LIMIT)
    except TandemError as exc:
        context["error"], status = exc, exc.status_code
    return render(request, "search/_suggest.html", context, status=status)


@login_required
def search_page(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    kind = request.GET.get("kind", "").strip()
    context: dict[str, object] = {
        "q": q.strip(),
        "kind": kind,
        "kinds": [(k, selectors.KIND_LABELS[k]) for k in selectors.kinds_visible(user=request.user)],
    }
    status = 200
    if q.strip() or kind:
        try:
            context["results"] = selectors.search(
                q=q, user=request.user, kinds=kind or None, limit=KIND_PAGE_LIMIT if kind else PAGE_LIMIT
            )
        except TandemError as exc:
            context["error"], status = exc, exc.status_code
    return render(request, "search/page.html", context, status=status)
