"""Complaints pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.complaints.actions import REVIEW_ROLES
from keycare.web import complaints
from keycare.web.customers import CUSTOMER_ROLES

urlpatterns: list = [
    path("complaints/", complaints.complaint_list, name="complaint-list"),
    path("complaints/review/", complaints.review_queue, name="complaint-review"),
    path("complaints/<int:pk>/correct/", complaints.correct_label, name="complaint-correct"),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:complaint-list", _("投诉文本"), CUSTOMER_ROLES),
    ("web:complaint-review", _("投诉分类复核"), REVIEW_ROLES),
]
