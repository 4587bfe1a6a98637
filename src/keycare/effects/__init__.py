"""Effect evaluation against the control group, and the closed-loop simulation's reports."""
