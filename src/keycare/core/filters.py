"""Filter pieces every app's filtersets share (django-filter)."""

import django_filters as filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from keycare.core.parsing import DATETIME_OUT_OF_RANGE, DateTimeOutOfRange, sane_datetime


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time held to ``keycare.core.parsing.sane_datetime`` (years 1900-2100):
    year 1 or 9999 would overflow when the lookup value is converted for the database."""

    default_error_messages = {"out_of_range": DATETIME_OUT_OF_RANGE}

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return result
        try:
            return sane_datetime(result)
        except DateTimeOutOfRange:
            raise ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None


class BoundedIsoDateTimeFilter(filters.IsoDateTimeFilter):
    """Every date-time filter of the API is one of these."""

    field_class = BoundedIsoDateTimeField
