"""``{% task_dial_form task %}``: the dial form of the task page (``keycare.web.task_dial``),
drawn only for a user who may dial that task."""

from django import template

from keycare.web.task_dial import dial_form_context

register = template.Library()


@register.inclusion_tag("web/partials/task_dial.html", takes_context=True)
def task_dial_form(context, task):
    return {**dial_form_context(context["request"].user, task), "csrf_token": context["csrf_token"]}
