"""Routing (分办): classify each report and send it to the right group — issue 4.

Until it lands, `intake.cases.submit_draft` records each case with its QR code's group and unit
(or none: the office's triage queue), which is the routing fallback of DESIGN.md.
This package must run without Flask.
"""
