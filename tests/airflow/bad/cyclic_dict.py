from airflow import DAG
d = {}
d["self"] = d
e = {"a": {}}
e["a"]["up"] = e
with DAG("d", params={"d": d, "e": e}):
    pass
