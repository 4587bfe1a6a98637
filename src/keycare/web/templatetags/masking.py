"""Template filters for personal data: ``{{ order.title|scrub }}`` masks any mobile or ID
number someone typed into free text, the same way the API's ScrubbedTextField does."""

from django import template

from keycare.access.masking import scrub_text

register = template.Library()


@register.filter
def scrub(value):
    return scrub_text(str(value)) if value is not None else ""
