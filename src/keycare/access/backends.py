"""Authentication backend: Django's ModelBackend, loading the staff profile with the user.

Every page and API call reads the user's role and scope from the profile (``user_scope``):
loading both in one query saves a query on every request.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class StaffModelBackend(ModelBackend):
    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("staffprofile")
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
