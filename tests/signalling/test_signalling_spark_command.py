"""``keycare signalling_spark``: bad input is a one-line message, before any JVM starts."""

import pytest
from django.core.management import CommandError, call_command

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install -e '.[spark]')")


@pytest.mark.django_db
def test_a_non_positive_trigger_is_refused_by_name(tmp_path):
    with pytest.raises(CommandError, match="--trigger"):
        call_command("signalling_spark", "--checkpoint", str(tmp_path), "--trigger", "0")
