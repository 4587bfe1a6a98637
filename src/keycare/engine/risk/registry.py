"""The model registry: versioned models under ``<models_dir>/<version>/`` and the promoted one.

``<models_dir>/promoted.json`` names the champion the daily run scores with (version, when,
by whom, why, and the comparison that justified it); ``promotions.jsonl`` keeps every
promotion ever made. Both are written atomically (temp file + rename), so a run reading the
pointer while a promotion happens sees either the old champion or the new one.

Training never changes what the daily run uses unless the promotion rule (or an
administrator) says so: see ``keycare.engine.risk.champion``.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from keycare.errors import UserError

PROMOTED = "promoted.json"
HISTORY = "promotions.jsonl"
NO_MODEL_MESSAGE = (
    "没有已提升的风险模型，今日不评分 (no promoted risk model: run `keycare risk train`, "
    "which promotes its model when it is not worse than the current one)"
)


def _metadata(path: Path) -> dict | None:
    try:
        return json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def version_dir(models_dir: Path, version: str) -> Path:
    """The directory of one version; a user error naming the version when it does not exist."""
    path = Path(models_dir) / str(version)
    if (
        not version
        or "/" in version
        or version.startswith(".")
        or not (path / "metadata.json").is_file()
    ):
        raise UserError(f"风险模型版本 {version!r} 不存在 (no such model in {models_dir})")
    return path


def list_models(models_dir: Path) -> list[dict]:
    """Every readable version's metadata, newest first, with ``promoted`` set on the champion."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    current = promoted_version(models_dir)
    found = []
    for path in models_dir.iterdir():
        if path.name.startswith(".") or not path.is_dir():
            continue
        meta = _metadata(path)
        if meta is not None:
            found.append({**meta, "promoted": meta.get("version") == current, "path": str(path)})
    return sorted(
        found, key=lambda m: (m.get("trained_at", ""), m.get("version", "")), reverse=True
    )


def promotion(models_dir: Path) -> dict | None:
    """The promoted pointer's content, or None when no model was ever promoted."""
    path = Path(models_dir) / PROMOTED
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: 无法读取 (cannot be read: {exc})") from exc


def promoted_version(models_dir: Path) -> str | None:
    pointer = promotion(models_dir)
    return pointer.get("version") if pointer else None


def promoted_dir(models_dir: Path) -> Path | None:
    """The champion's directory; None when none is promoted (the run then scores nothing)."""
    version = promoted_version(models_dir)
    return version_dir(models_dir, version) if version else None


def promote(
    models_dir: Path, version: str, *, by: str, reason: str, comparison: dict | None = None
) -> dict:
    """Make ``version`` the champion; returns the pointer written."""
    models_dir = Path(models_dir)
    version_dir(models_dir, version)
    pointer = {
        "version": version,
        "previous": promoted_version(models_dir),
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": by,
        "reason": reason,
        "comparison": comparison,
    }
    _write_atomic(models_dir / PROMOTED, json.dumps(pointer, ensure_ascii=False, indent=2))
    with open(models_dir / HISTORY, "a", encoding="utf-8") as log:
        log.write(json.dumps(pointer, ensure_ascii=False) + "\n")
    return pointer


def promotions(models_dir: Path) -> list[dict]:
    """Every promotion, newest first."""
    path = Path(models_dir) / HISTORY
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows[::-1]


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
