"""Read side of the tactics library: the current version as a ``Library`` and the suggestions
for a task (the matrix lookup of ``keycare.moments.tactics.suggest`` over database rows)."""

from __future__ import annotations

from keycare.customers.models import ValueTier
from keycare.moments import services
from keycare.moments.models import MomentDefinition, Tactic, TacticLibraryVersion
from keycare.moments.tactics import Library, parse_library, risk_band, suggest

# content hash -> Library: a stored version never changes, so it is parsed once per process.
_PARSED: dict[str, Library] = {}


def known_moments() -> dict:
    """moment code -> category: the built-in moments and any the database holds."""
    known = {
        entry["code"]: entry.get("category", "")
        for entry in services.moment_entries(services.read_builtin_document())
    }
    known.update(MomentDefinition.objects.values_list("code", "category"))
    return known


def load_library(document: dict) -> Library:
    """Validate a tactics document against today's moments and value tiers."""
    return parse_library(document, moment_categories=known_moments(), tiers=ValueTier.values)


def current_library() -> Library | None:
    """The library in force (None before the first import).

    Reads the current version's hash first and its document only on a miss: the document is
    the whole library, and the task page asks for it on every view."""
    latest = TacticLibraryVersion.objects.order_by("-number").values("pk", "content_hash").first()
    if latest is None:
        return None
    library = _PARSED.get(latest["content_hash"])
    if library is None:
        document = TacticLibraryVersion.objects.values_list("document", flat=True).get(
            pk=latest["pk"]
        )
        library = _PARSED[latest["content_hash"]] = load_library(document)
    return library


class Suggester:
    """Suggested tactics for tasks: the library and the active tactics read once, then no
    query per task (the task payload of an export calls it for every task)."""

    def __init__(self, library: Library | None = None):
        self.library = library if library is not None else current_library()
        self.tactics = {t.code: t for t in Tactic.objects.filter(active=True)}

    def codes(self, task) -> list[str]:
        if self.library is None:
            return []
        moments = [(m.moment.code, m.moment.category) for m in task.moments.all()]
        tier = getattr(task.customer, "value_tier", None)
        return suggest(self.library, moments, tier, task.risk_probability, active=set(self.tactics))

    def for_task(self, task) -> list[dict]:
        """The top suggestions as JSON-ready rows (code, names, group, description)."""
        return [tactic_row(self.tactics[code]) for code in self.codes(task)]


def tactic_row(tactic: Tactic) -> dict:
    return {
        "code": tactic.code,
        "name": tactic.name_zh,
        "name_en": tactic.name_en,
        "group": tactic.group,
        "group_name": tactic.group_zh,
        "description": tactic.description,
    }


def risk_band_of(probability) -> str | None:
    library = current_library()
    return risk_band(library, probability) if library else None
