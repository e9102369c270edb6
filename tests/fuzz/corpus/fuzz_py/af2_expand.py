"""Dynamic task mapping: .expand over literals, .partial, TaskFlow mapping."""
from datetime import datetime

from airflow import DAG
from airflow.decorators import task
from airflow.operators.bash import BashOperator

with DAG("dynamic_mapping", start_date=datetime(2022, 3, 4), schedule=None, catchup=False) as dag:

    @task
    def add_one(x: int, y: int = 0):
        return x + 1 + y

    @task
    def sum_it(values):
        total = sum(values)
        print(f"Total was {total}")

    added = add_one.expand(x=[1, 2, 3])
    sum_it(added)

    added_more = add_one.partial(y=10).expand(x=[4, 5])
    renamed = add_one.override(task_id="renamed").expand(x=[7])

    echo = BashOperator.partial(task_id="echo", retries=1, do_xcom_push=False).expand(
        bash_command=["echo 1", "echo 2", "echo " + "3"],
    )
    env = BashOperator.partial(task_id="env_echo", bash_command="echo $WORD").expand(
        env=[{"WORD": w} for w in ["hello", "world"]],
    )
    echo >> env >> added_more >> renamed
