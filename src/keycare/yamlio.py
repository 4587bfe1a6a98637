"""One YAML loader for the whole package: libyaml's C loader when it is built (about 10x
faster than the pure-Python one on the 300-field catalog and the 29 moments), else the
pure-Python safe loader. Either way only plain data is built (safe loading)."""

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(stream):
    return yaml.load(stream, Loader=SAFE_LOADER)  # nosec B506 - a safe loader
