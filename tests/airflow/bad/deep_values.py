from airflow import DAG
x = []
for i in range(300):
    x = [x]
with DAG("d", params={"x": x}):
    pass
