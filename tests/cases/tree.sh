# tree.sh — the source tree itself: no merge conflict markers left in any file.
. tests/lib.sh

left=$(grep -rlE '^(<<<<<<<|>>>>>>>) ' --include='*.c' --include='*.h' --include='*.def' --include='*.md' \
    --include='*.sh' --include='*.py' --include='*.yaml' --include='*.lua' --include=Makefile \
    interpreter dsl stdlib storage tests samples docs README.md Makefile 2>/dev/null)
eq "no merge conflict markers in the tree" "$left" ""
