import subprocess
import sys

import pytest

from keycare.cpu import AVX512_GROUPS, NUMPY_SETTING, has_slow_compress_store, prefer_avx2_sort

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 avx512f avx512dq avx512bw

processor\t: 1
vendor_id\t: AuthenticAMD
"""


def cpuinfo(vendor="AuthenticAMD", family=25, flags="avx2 avx512f"):
    return f"vendor_id\t: {vendor}\ncpu family\t: {family}\nflags\t\t: {flags}\n\n"


@pytest.mark.parametrize(
    "text, slow",
    [
        (ZEN4, True),
        (cpuinfo(family=25, flags="avx2"), False),  # Zen 3: no AVX-512 at all
        (cpuinfo(family=26), False),  # Zen 5 stores compressed vectors at full speed
        (cpuinfo(vendor="GenuineIntel", family=6), False),
        (cpuinfo(flags="avx2 avx512fp16"), False),  # a flag that only starts like avx512f
        ("", False),
        ("cpu family\t: x\n", False),
    ],
)
def test_only_zen4_is_recognised(text, slow):
    assert has_slow_compress_store(text) is slow


def test_zen4_gets_numpy_avx2_sort(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(ZEN4)
    env = {}
    assert prefer_avx2_sort(env, info, modules={})
    assert env == {NUMPY_SETTING: AVX512_GROUPS}


@pytest.mark.parametrize(
    "env, modules, text",
    [
        ({NUMPY_SETTING: ""}, {}, ZEN4),  # the operator's own setting wins, even empty
        ({}, {"numpy": object()}, ZEN4),  # too late: numpy read it already
        ({}, {}, cpuinfo(family=26)),
    ],
)
def test_left_alone(tmp_path, env, modules, text):
    info = tmp_path / "cpuinfo"
    info.write_text(text)
    before = dict(env)
    assert not prefer_avx2_sort(env, info, modules=modules)
    assert env == before


def test_no_cpuinfo_changes_nothing(tmp_path):
    env = {}
    assert not prefer_avx2_sort(env, tmp_path / "missing", modules={})
    assert env == {}


def test_pinned_numpy_accepts_the_setting_without_warning():
    """A numpy upgrade that renames its dispatch targets must fail here, not warn in runs."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import numpy; numpy.sort(numpy.arange(9)[::-1])"],
        env={NUMPY_SETTING: AVX512_GROUPS, "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
