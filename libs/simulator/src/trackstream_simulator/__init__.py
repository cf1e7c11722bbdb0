"""Trackstream's device simulator: virtual GT06 and JT/T 808 trackers driving routes against
ingest over real TCP, for the local demo fleet (``make up``) and for load benchmarks.

Modules: :mod:`.route` (pure, seeded routes), :mod:`.identities` (IMEIs, phones, device ids),
:mod:`.codec` (what a device sends and understands, per protocol), :mod:`.device` (one virtual
tracker), :mod:`.fleet` (many of them, progress and summary), :mod:`.registry` (registering the
fleet in identity's device registry) and :mod:`.cli` (``trackstream-simulate``).
"""
