#!/bin/sh
# Checks that the PII detectors' output is unchanged, byte for byte: every entity (type, start,
# end, text, normalised key, score bits) each detector reports alone at --min-score 0 and the
# full scanner reports at the default threshold, on the evaluation fixtures, a shuffled text of
# their tokens, and the 5 MB benchmark mail text (Tests/PIITests/ScanDigestTests.swift holds
# the digests). Dumps go to $DUMP (default /tmp/pii-digest) for diffing against another build.
# Usage: Scripts/check_pii_digest.sh [DUMP_DIR]   (after swift build --build-tests)
set -e
DUMP=${1:-/tmp/pii-digest}
mkdir -p "$DUMP"
[ -f "$DUMP/mail.txt" ] || python3 Scripts/make_bench_mail.py "$DUMP/mail.txt" --mb 5
SHALLOT_PII_DIGEST_FILE="$DUMP/mail.txt" SHALLOT_PII_DUMP_DIR="$DUMP" swift test --skip-build --filter ScanDigestTests
