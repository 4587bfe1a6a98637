"""Messaging pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import messaging

urlpatterns: list = [
    path("sms/", messaging.sms_list, name="sms-list"),
    path("sms/<int:pk>/", messaging.sms_detail, name="sms-detail"),
    path("sms/<int:pk>/resend/", messaging.sms_resend, name="sms-resend"),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:sms-list", _("短信发送记录"), {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}),
]
