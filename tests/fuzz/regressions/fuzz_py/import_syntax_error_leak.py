from airflow import DAG
from airflow.operators.

with DAG("broken") as dag
    BashOperator(task_id="a", bash_command="echo")
