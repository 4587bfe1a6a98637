"""keycare knowledge build | surveys: rebuild the knowledge graph's aggregate edges; check the
low-satisfaction predictions against the answered satisfaction surveys."""

from __future__ import annotations

import json

from keycare.core.commands import KeycareCommand


class Command(KeycareCommand):
    help = "Rebuild the service knowledge graph's aggregate edges from complaints and outcomes."
    needs_database = "migrate"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("build", help="rebuild the aggregate edges (cause-need, need-tactic...)")
        sub.add_parser(
            "surveys", help="precision/recall of the low-satisfaction predictions vs surveys"
        )

    def run(self, *args, **options):
        if options["action"] == "surveys":
            from keycare.knowledge.services import satisfaction_against_surveys

            self.stderr.write("满意度预测对照调查结果 (predictions against the surveys)…")
            self.stdout.write(json.dumps(satisfaction_against_surveys(), ensure_ascii=False))
            return
        from keycare.knowledge.actions import build_edges

        self.stderr.write("构建知识图谱边 (building the knowledge graph edges)…")
        self.stdout.write(json.dumps(build_edges(), ensure_ascii=False))
