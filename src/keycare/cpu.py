"""Work around a CPU that runs numpy's AVX-512 sort in microcode (AMD Zen 4).

numpy sorts 32/64-bit values with x86-simd-sort, whose AVX-512 partition step stores
with ``vpcompress*`` to memory on every vector. Zen 4 (AMD family 25 with AVX-512)
executes that store in microcode: on this project's benchmark machine (AMD EPYC, family
25 model 17) sorting random uint64 took 72 ns a value with AVX-512 and 14 ns with the AVX2
path (docs/performance.md). Ingest sorts every delivered key's hash, ~320M values at 10M
subscribers, so the daily run asks numpy for the AVX2 path on such a CPU. Zen 5 (family
26) and Intel run the AVX-512 path well and are left alone. numpy reads the setting once,
when it is first imported, so this runs on import of ``keycare``; it changes nothing if
numpy is already loaded or the operator has set ``NPY_DISABLE_CPU_FEATURES`` themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

NUMPY_SETTING = "NPY_DISABLE_CPU_FEATURES"
# numpy 2.4's AVX-512 dispatch targets (pinned in pyproject.toml); naming one it does not
# dispatch makes numpy warn on import.
AVX512_GROUPS = "X86_V4 AVX512_ICL AVX512_SPR"
ZEN4_FAMILY = 25  # Zen 3 (no AVX-512) and Zen 4 share it; the avx512f flag tells them apart


def has_slow_compress_store(cpuinfo: str) -> bool:
    """True for a CPU whose /proc/cpuinfo says AMD family 25 with AVX-512 (Zen 4)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor is enough: all cores of a machine are alike
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return (
        fields.get("vendor_id") == "AuthenticAMD"
        and fields.get("cpu family", "").isdigit()
        and int(fields["cpu family"]) == ZEN4_FAMILY
        and "avx512f" in fields.get("flags", "").split()
    )


def prefer_avx2_sort(
    environ=os.environ, cpuinfo_path: Path = Path("/proc/cpuinfo"), modules=sys.modules
) -> bool:
    """Ask numpy for its AVX2 sort on Zen 4. Returns whether the setting was made."""
    if "numpy" in modules or NUMPY_SETTING in environ:
        return False
    try:
        cpuinfo = cpuinfo_path.read_text(errors="replace")
    except OSError:  # not Linux, or /proc not mounted: nothing to learn, nothing to change
        return False
    if not has_slow_compress_store(cpuinfo):
        return False
    environ[NUMPY_SETTING] = AVX512_GROUPS
    return True
