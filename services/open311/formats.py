"""GeoReport v2's two formats: XML (required by the spec) and JSON, both UTF-8.

A response is built once as plain data (dicts, lists, str/int/float/bool/None) and
written in the format the path asks for (`/services.xml`, `/services.json`). XML follows
the spec's examples: a root element, one element per item (`<service>`, `<request>`,
`<error>`), nested lists named as the spec names them (`<attributes><attribute>`), `true`
/ `false` for booleans, an empty element for a missing value. Characters XML 1.0 cannot
carry (control characters) are dropped from XML; JSON keeps Chinese as is (no \\u escapes).
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from starlette.responses import Response

FORMATS = ("xml", "json")
MEDIA_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# A list inside a record: the element each of its items is written as.
ITEM_NAMES = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(parent: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            el = ET.SubElement(parent, key)
            if isinstance(child, list):
                item = ITEM_NAMES.get(key, "item")
                for x in child:
                    _fill(ET.SubElement(el, item), x)
            else:
                _fill(el, child)
    else:
        parent.text = xml_text(value)


def to_xml(root: str, item: str | None, data: Any) -> bytes:
    """`data` under `<root>`: a list becomes one `<item>` per element, a dict the root's
    children."""
    top = ET.Element(root)
    if item is not None:
        for x in data:
            _fill(ET.SubElement(top, item), x)
    else:
        _fill(top, data)
    return XML_DECLARATION + ET.tostring(top, encoding="unicode").encode("utf-8")


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render(fmt: str, root: str, item: str | None, data: Any, *, status: int = 200) -> Response:
    body = to_xml(root, item, data) if fmt == "xml" else to_json(data)
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt])


def format_of(path: str) -> str:
    """The format a path asks for; XML (the spec's default) when it names none we know."""
    return "json" if path.lower().endswith(".json") else "xml"
