"""Rule configuration pages (关键时刻规则): list, editor with preview, versions and restore."""
