"""Demo step: build the knowledge graph's aggregate edges once the run's tasks are loaded."""

from django.core.management import call_command

from keycare.core.demo_steps import DemoContext, DemoStep


def _build(context: DemoContext) -> None:
    if not (context.data_dir / "manifest.json").exists():  # no demo data: nothing to link
        return
    call_command("knowledge", "build")


DEMO_STEPS = [DemoStep("after_loadrun", "构建服务知识图谱 knowledge build", _build)]
