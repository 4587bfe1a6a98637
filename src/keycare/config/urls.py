from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

# KeyCare's own error pages (JSON under /api/): keycare.web.errors.
handler400 = "keycare.web.errors.bad_request"
handler403 = "keycare.web.errors.permission_denied"
handler404 = "keycare.web.errors.page_not_found"
handler500 = "keycare.web.errors.server_error"

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("keycare.api.urls")),
    path("", include("keycare.web.urls")),
]
