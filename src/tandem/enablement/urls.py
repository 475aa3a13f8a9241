from django.urls import path

from tandem.enablement import views

app_name = "enablement"
urlpatterns = [
    path("", views.library, name="library"),
    path("assets/new/", views.asset_new, name="asset-new"),
    path("assets/<int:pk>/", views.asset_detail, name="asset"),
    path("assets/<int:pk>/edit/", views.asset_edit, name="asset-edit"),
    path("assets/<int:pk>/file/", views.asset_file, name="asset-file"),
    path("assets/<int:pk>/send/", views.asset_send, name="asset-send"),
    path("uses/<int:pk>/rate/", views.use_rate, name="use-rate"),
    path("people/<int:person_id>/panel/", views.person_panel, name="person-panel"),
    path("people/<int:person_id>/uses/", views.use_record, name="use-record"),
    path("usage/", views.usage, name="usage"),
    path("gaps/", views.gaps, name="gaps"),
    path("personas/", views.personas, name="personas"),
    path("personas/<int:pk>/", views.persona_detail, name="persona"),
    path("personas/<int:pk>/objections/", views.objection_add, name="objection-add"),
    path("objections/<int:pk>/remove/", views.objection_remove, name="objection-remove"),
    path("products/", views.products, name="products"),
]
