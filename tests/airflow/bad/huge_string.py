from airflow import DAG
from airflow.operators.bash import BashOperator

BIG = "x" * 10 ** 9
with DAG("huge") as dag:
    BashOperator(task_id="t", bash_command=BIG + BIG)
