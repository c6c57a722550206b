import json

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# What Django's json_script escapes, so that no text in the data can end the <script> element.
SCRIPT_ESCAPES = (("&", "\\u0026"), ("<", "\\u003C"), (">", "\\u003E"))


@register.filter(is_safe=True)
def figure_json(value, element_id: str):
    """The output of Django's `json_script`, escaped with str.replace: its str.translate takes
    ~50 ms over a 60-GPU month heatmap's 450 KB, three replaces ~1 ms."""
    text = json.dumps(value, cls=DjangoJSONEncoder)
    for character, escaped in SCRIPT_ESCAPES:
        text = text.replace(character, escaped)
    return format_html('<script id="{}" type="application/json">{}</script>', element_id, mark_safe(text))
