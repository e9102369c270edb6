from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("broken") as dag
    BashOperator(task_id="a", bash_command="echo")
