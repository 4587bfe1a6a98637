"""Every audit action the code writes has a label, so the audit log never shows a raw code."""

import ast
from pathlib import Path

from django.conf import settings

from keycare.web.labels import AuditAction

AUDIT_CALLS = {"record"}


def _literal_actions() -> dict[str, str]:
    found = {}
    for path in Path(settings.BASE_DIR).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in AUDIT_CALLS and len(node.args) >= 2:
                action = node.args[1]
                if isinstance(action, ast.Constant) and isinstance(action.value, str):
                    found[action.value] = str(path.relative_to(settings.BASE_DIR))
    return found


def test_every_audit_action_written_by_the_code_has_a_label():
    actions = _literal_actions()
    assert len(actions) > 40  # the scan finds the calls (it would pass vacuously otherwise)
    labelled = set(AuditAction.values)
    missing = {code: where for code, where in actions.items() if code not in labelled}
    assert not missing, f"audit actions without a label in web/labels.AuditAction: {missing}"
