from airflow import DAG

with DAG("x") as dag:
        a = 1
    b = 2
