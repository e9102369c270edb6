"""Several DAGs in one file, made by a factory function in a loop."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

SOURCES = {
    "orders": "@hourly",
    "customers": "@daily",
    "inventory": timedelta(minutes=30),
}


def make_dag(name, schedule):
    with DAG(
        dag_id=f"ingest_{name}",
        schedule=schedule,
        start_date=datetime(2024, 3, 1, 6, 30),
        catchup=False,
        tags=["ingest", name],
    ) as dag:
        pull = BashOperator(task_id="pull", bash_command=f"./pull.sh {name} ")
        push = BashOperator(task_id="push", bash_command="echo pushing " + name.upper())
        pull >> push
    return dag


for source, sched in SOURCES.items():
    globals()[f"ingest_{source}"] = make_dag(source, sched)

with DAG("report", schedule=None, start_date=datetime(2024, 3, 1)) as report_dag:
    BashOperator(task_id="report", bash_command="echo report")
