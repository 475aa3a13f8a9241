from __future__ import annotations

from decimal import Decimal

from tandem.enablement.models import DealProduct, Product
from tandem.enablement.services import deal_products_set_bulk
from tests.crm.factories import DealFactory


def _lines() -> list[tuple[int, str, int, Decimal | None]]:
    return list(
        DealProduct.objects.order_by("deal_id", "product__name").values_list(
            "deal_id", "product__name", "quantity", "unit_price"
        )
    )


def test_deal_products_set_bulk_makes_each_deals_lines_exactly_those_given(db):
    # given two deals, three products, and lines already stored for the first deal
    first, second = DealFactory(), DealFactory()
    gtx, mg, gtk = (Product.objects.create(name=n) for n in ("GTX Pro", "MG Special", "GTK 500"))
    DealProduct.objects.create(deal=first, product=gtx, unit_price=Decimal("4821.00"))
    DealProduct.objects.create(deal=first, product=mg, unit_price=Decimal("55.00"))
    # when the first deal keeps GTX at another price and drops MG, and the second gains GTK
    changed = deal_products_set_bulk(
        lines=[
            DealProduct(deal_id=first.pk, product_id=gtx.pk, quantity=2, unit_price=Decimal("4500.00")),
            DealProduct(deal_id=second.pk, product_id=gtk.pk, unit_price=None),
        ]
    )
    again = deal_products_set_bulk(
        lines=[
            DealProduct(deal_id=first.pk, product_id=gtx.pk, quantity=2, unit_price=Decimal("4500.00")),
            DealProduct(deal_id=second.pk, product_id=gtk.pk, unit_price=None),
        ]
    )
    # then one line was updated, one removed, one added; the same lines again change nothing
    assert (changed, again) == (3, 0)
    assert _lines() == [
        (first.pk, "GTX Pro", 2, Decimal("4500.00")),
        (second.pk, "GTK 500", 1, None),
    ]
