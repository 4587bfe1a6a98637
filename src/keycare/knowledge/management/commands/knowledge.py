"""keycare knowledge build: rebuild the knowledge graph's aggregate edges."""

from __future__ import annotations

import json

from keycare.core.commands import KeycareCommand


class Command(KeycareCommand):
    help = "Rebuild the service knowledge graph's aggregate edges from complaints and outcomes."
    needs_database = "migrate"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("build", help="rebuild the aggregate edges (cause-need, need-tactic...)")

    def run(self, *args, **options):
        from keycare.knowledge.actions import build_edges

        self.stderr.write("构建知识图谱边 (building the knowledge graph edges)…")
        self.stdout.write(json.dumps(build_edges(), ensure_ascii=False))
