"""Template filters for enumerated values: ``{{ run.status|label:"run_status" }}`` prints the
value's label in the page's language, ``{{ field.unit|unit }}`` a catalog unit
(``keycare.web.labels``)."""

from django import template

from keycare.web import labels

register = template.Library()


@register.filter
def label(value, source):
    return labels.value_label(source, value)


@register.filter
def unit(value):
    return labels.unit_label(value)
