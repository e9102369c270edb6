"""A classic Airflow 2 ETL DAG: with DAG, default_args, Bash and Empty operators."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator

default_args = {
    "owner": "data",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "depends_on_past": False,
}

with DAG(
    dag_id="etl_basic",
    default_args=default_args,
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    tags=["etl", "example"],
) as dag:
    start = EmptyOperator(task_id="start")
    extract = BashOperator(
        task_id="extract",
        bash_command="echo extracting {{ ds }}",
        execution_timeout=timedelta(minutes=10),
    )
    transform = BashOperator(task_id="transform", bash_command="echo transform {{ ds_nodash }}", retries=3)
    load = BashOperator(task_id="load", bash_command="echo load {{ ts_nodash }}")
    end = EmptyOperator(task_id="end", trigger_rule="all_done")

    dag.doc_md = __doc__

    start >> extract >> transform >> load >> end
