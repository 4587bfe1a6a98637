"""Demo steps: train the complaint-text model in seconds and classify the demo's texts."""

from django.core.management import call_command

from keycare.core.demo_steps import DemoContext, DemoStep

DEMO_TRAIN_SIZE = 6000  # enough for the synthetic texts (macro-F1 1.0 held out), seconds
DEMO_DAYS = 120  # the texts the pages use: rising causes compare two windows of up to 90 days


def _has_delivery(context: DemoContext) -> bool:
    return (context.data_dir / "manifest.json").exists()


def _train(context: DemoContext) -> None:
    if not _has_delivery(context):  # nothing to classify: no model needed yet
        return
    call_command("complaints", "train", "--size", str(DEMO_TRAIN_SIZE))


def _load(context: DemoContext) -> None:
    if not _has_delivery(context):
        return
    call_command("complaints", "load", str(context.data_dir), "--days", str(DEMO_DAYS))


DEMO_STEPS = [
    DemoStep("after_load", "训练投诉文本模型 complaints train", _train),
    DemoStep("after_load", "投诉文本分类 complaints load", _load),
]
