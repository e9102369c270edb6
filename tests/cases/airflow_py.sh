# airflow_py.sh — the DAG corpus of the Python front end is real Python, and
# its bad inputs agree with CPython: every tests/airflow/dags/*.py parses with
# python3's own parser (ast.parse); every tests/airflow/bad/NAME.py whose
# expected first diagnostic (NAME.expected, checked by test_py) is a fatal
# "error:" is refused by CPython too, at the same line; the others (warnings,
# unsupported constructs) are valid Python that CPython accepts.
. tests/lib.sh

cpython() { # cpython FILE -> "ok" or "error LINE"
    python3 - "$1" <<'PY'
import ast, sys
try:
    ast.parse(open(sys.argv[1], "rb").read(), sys.argv[1])
    print("ok")
except SyntaxError as e:
    print("error %s" % (e.lineno if e.lineno is not None else "?"))
except ValueError:   # null bytes on older Pythons
    print("error ?")
PY
}

for f in tests/airflow/dags/*.py; do
    eq "airflow_py: CPython parses $f" "$(cpython "$f")" "ok"
done

for f in tests/airflow/bad/*.py; do
    exp=$(cat "${f%.py}.expected")
    got=$(cpython "$f")
    case "$exp" in
    *": error: "*)
        line=$(sed -E 's/^[^:]+:([0-9]+):.*/\1/' <<<"$exp")
        # CPython gives no line for null bytes
        [ "$got" = "error ?" ] && got="error $line"
        eq "airflow_py: CPython refuses $f at line $line too" "$got" "error $line" ;;
    *) eq "airflow_py: CPython accepts $f (only the importer objects)" "$got" "ok" ;;
    esac
done
