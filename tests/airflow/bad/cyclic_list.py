from airflow import DAG
a = []
b = [a]
a.append(b)
with DAG("d", params={"x": a}):
    pass
