#!/bin/sh
# valgrind.sh — runs the wfdsl binary named by $WFDSL_REAL under valgrind's
# memcheck; `make valgrind` points the suite's $WFDSL here. A memory error or a
# definite leak makes the command exit 99 (which fails the check that ran it)
# and is written to $VALGRIND_LOG_DIR for `make valgrind` to list.
exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --trace-children=no \
    --log-file="${VALGRIND_LOG_DIR:-/tmp}/vg.%p.log" "$WFDSL_REAL" "$@"
