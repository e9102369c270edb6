# torture_short.sh — the short crash torture inside `make test`: every sample
# killed at random moments (~50 kills, under 30 s) and resumed until it
# finishes; see tests/torture/torture.py for what each trial proves.
# The long one: `make torture N=1000`.
. tests/lib.sh
TORTURE_SECONDS="${TORTURE_SECONDS:-24}" bash tests/torture/torture.sh "${TORTURE_KILLS:-50}" --dir "$T/torture"
