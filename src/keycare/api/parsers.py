"""The API's body parsers (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): bounded size and depth.

DRF's JSONParser and FormParser read the whole body whatever its size (Django's
DATA_UPLOAD_MAX_MEMORY_SIZE guards only ``request.body``, ``request.POST`` and multipart
data), and JSONParser lets the RecursionError of a body nested thousands of levels deep
(``[[[[...``) escape as a 500. Here both are a client error: a body over
DATA_UPLOAD_MAX_MEMORY_SIZE is RequestDataTooBig (a 400, as on the web side), and JSON nested
deeper than MAX_JSON_DEPTH a ParseError (400). Multipart bodies go through Django's own
parser, which already enforces the limits.
"""

import io

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser

from keycare.core.parsing import MAX_JSON_DEPTH, json_too_deep

TOO_DEEP = (
    f"JSON 嵌套层数过多（最多 {MAX_JSON_DEPTH} 层） "
    f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)"
)


def _bounded(stream):
    """``stream`` read into memory, refused beyond DATA_UPLOAD_MAX_MEMORY_SIZE bytes."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or stream is None:
        return stream
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return io.BytesIO(body)


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        stream = _bounded(stream)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if json_too_deep(data):
            raise ParseError(TOO_DEEP)
        return data


class BoundedFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return super().parse(_bounded(stream), media_type, parser_context)
