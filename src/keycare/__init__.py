"""KeyCare: key-moment service and key-account management for a mobile operator."""

__version__ = "0.1.0"

# Before anything imports numpy: see keycare/cpu.py (numpy's sort on AMD Zen 4).
from keycare.cpu import prefer_avx2_sort

prefer_avx2_sort()
