from django.http import HttpRequest
from ninja import Router

router = Router(tags=["people"])


@router.get("/people/count")
def people_count(request: HttpRequest) -> dict:
    """How many people there are."""
    from tandem.crm.models import Person

    return {"count": Person.objects.count()}
