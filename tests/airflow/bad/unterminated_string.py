from airflow import DAG

with DAG("x") as dag:
    cmd = "echo unterminated
