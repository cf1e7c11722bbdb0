"""The independent residual scanner (issue 8): a data subject's identifiers in every store.

Separate code from the eraser (services/privacy): it knows nothing of how erasure works and
imports no service; it derives every byte form of the subject's identifiers and reads Kafka,
Cassandra and S3 whole, read-only.
"""

from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.patterns import Pattern, derive_patterns
from trackstream_residual_scan.report import Hit, hits_sha256
from trackstream_residual_scan.scanner import ScanRequest, ScanResult, StoreSettings, run_scan
from trackstream_residual_scan.subject import Subject, SubjectError, load_subject, parse_subject

__all__ = [
    "Hit",
    "Matcher",
    "Pattern",
    "ScanRequest",
    "ScanResult",
    "StoreSettings",
    "Subject",
    "SubjectError",
    "derive_patterns",
    "hits_sha256",
    "load_subject",
    "parse_subject",
    "run_scan",
]
