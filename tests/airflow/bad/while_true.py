from airflow import DAG

with DAG("spin") as dag:
    while True:
        pass
