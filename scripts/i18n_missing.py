#!/usr/bin/env python3
"""List (and optionally fill) the untranslated strings of KeyCare's English catalog.

Simplified Chinese is the source language of the UI; ``src/keycare/locale/en/LC_MESSAGES/
django.po`` holds the English translations. After ``keycare makemessages -l en`` brings in new
strings, run:

    python3 scripts/i18n_missing.py                 # list entries with no usable English
    python3 scripts/i18n_missing.py --copy-english  # msgids already in English translate to themselves
    python3 scripts/i18n_missing.py --apply new.tsv # fill from "msgid<TAB>English" lines

An entry counts as missing when its msgstr is empty or it is marked fuzzy (msgfmt drops fuzzy
entries, so a fuzzy guess shows Chinese in the English UI). Exit status 1 when any is missing
(after filling, if asked to fill), so CI or a pre-commit hook can use it. Standard library only;
see docs/i18n.md for the whole workflow.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PO = Path(__file__).resolve().parents[1] / "src/keycare/locale/en/LC_MESSAGES/django.po"
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


@dataclass
class Entry:
    """One catalog entry: its lines in the file and the decoded fields."""

    lines: list[str]
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def msgid(self) -> str:
        return self.fields.get("msgid", "")

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and "msgctxt" not in self.fields

    @property
    def fuzzy(self) -> bool:
        return any(line.startswith("#,") and "fuzzy" in line for line in self.lines)

    @property
    def translations(self) -> list[str]:
        return [v for k, v in self.fields.items() if k.startswith("msgstr")]

    @property
    def missing(self) -> bool:
        return not self.is_header and (self.fuzzy or not all(self.translations))

    @property
    def references(self) -> str:
        refs = [line[3:].strip() for line in self.lines if line.startswith("#: ")]
        return " ".join(refs)


def unquote(text: str) -> str:
    body = text.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), body)


def quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'


def parse(text: str) -> list[Entry]:
    """Split a PO file into entries and decode their fields.

    Entries are delimited by keywords, not blank lines: a comment, msgctxt or msgid after a
    msgstr starts the next entry (makemessages may write no blank line after the header).
    """
    entries: list[Entry] = []
    current: Entry | None = None
    key = None
    for line in text.split("\n"):
        if not line.strip():
            continue
        starts_entry = line.startswith(("#", "msgctxt ", "msgid "))
        if current is None or (
            starts_entry and any(k.startswith("msgstr") for k in current.fields)
        ):
            current = Entry(lines=[])
            entries.append(current)
            key = None
        current.lines.append(line)
        if line.startswith("#"):
            continue
        if line.startswith('"') and key:
            current.fields[key] += unquote(line)
            continue
        match = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (\".*\")$", line)
        if match:
            key = match.group(1)
            current.fields[key] = unquote(match.group(2))
    return entries


def fill(entry: Entry, singular: str, plural: str | None = None) -> None:
    """Give an entry its translation: msgstr lines replaced, fuzzy flag and old msgid dropped."""
    kept = []
    for line in entry.lines:
        if line.startswith("#|"):  # msgmerge's previous msgid of a fuzzy match
            continue
        if line.startswith("#,"):
            flags = [f.strip() for f in line[2:].split(",") if f.strip() not in ("fuzzy", "")]
            if not flags:
                continue
            line = "#, " + ", ".join(flags)
        if line.startswith("msgstr") or (line.startswith('"') and _in_msgstr(kept)):
            continue
        kept.append(line)
    if "msgid_plural" in entry.fields:
        kept.append(f"msgstr[0] {quote(singular)}")
        kept.append(f"msgstr[1] {quote(plural or singular)}")
    else:
        kept.append(f"msgstr {quote(singular)}")
    entry.lines = kept
    entry.fields = parse("\n".join(kept))[0].fields


def _in_msgstr(lines: list[str]) -> bool:
    """True when the last keyword line seen was a msgstr (we are in its continuation)."""
    for line in reversed(lines):
        if not line.startswith('"'):
            return line.startswith("msgstr")
    return False


def read_tsv(path: Path) -> dict[str, list[str]]:
    """msgid -> [English] or [singular, plural]; PO escapes (\\n, \\t) allowed in both columns."""
    table = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) < 2 or not parts[1].strip():
            raise SystemExit(f"{path}:{number}: expected 'msgid<TAB>English', got {raw!r}")
        msgid, *english = (unquote('"' + part + '"') for part in parts)
        table[msgid] = english
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--po", type=Path, default=DEFAULT_PO)
    parser.add_argument("--apply", type=Path, help="TSV of msgid<TAB>English to fill in")
    parser.add_argument(
        "--copy-english",
        action="store_true",
        help="translate msgids with no Chinese characters to themselves",
    )
    args = parser.parse_args(argv)
    entries = parse(args.po.read_text(encoding="utf-8"))
    table = read_tsv(args.apply) if args.apply else {}
    changed = 0
    for entry in entries:
        if not entry.missing:
            continue
        if entry.msgid in table:
            fill(entry, *table[entry.msgid][:2])
            changed += 1
        elif args.copy_english and not CHINESE.search(entry.msgid):
            fill(entry, entry.msgid, entry.fields.get("msgid_plural"))
            changed += 1
    if changed:
        args.po.write_text("\n\n".join("\n".join(e.lines) for e in entries) + "\n", "utf-8")
        print(f"filled {changed} entries in {args.po}", file=sys.stderr)
    missing = [e for e in entries if e.missing]
    for entry in missing:
        print(f"{entry.msgid!r}\t{'(fuzzy) ' if entry.fuzzy else ''}{entry.references}")
    print(f"{len(missing)} untranslated of {len(entries) - 1} in {args.po}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
