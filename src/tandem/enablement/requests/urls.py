from django.urls import path

from tandem.enablement.requests import views

app_name = "collateral"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("new/", views.request_new, name="new"),
    path("board/", views.board_page, name="board"),
    path("<int:pk>/move/", views.move, name="move"),
    path("suggestions/handle/", views.suggestion_handle, name="suggestion-handle"),
    path("suggestions/assets/", views.suggestion_assets, name="suggestion-assets"),
]
