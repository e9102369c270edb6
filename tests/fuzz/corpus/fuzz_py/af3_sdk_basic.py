"""Airflow 3: airflow.sdk DAG, standard provider operators, asset schedule and outlets."""
import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, chain

raw_orders = Asset("s3://lake/raw/orders.parquet")
clean_orders = Asset(uri="s3://lake/clean/orders.parquet")

with DAG(
    dag_id="asset_consumer",
    schedule=[raw_orders],
    start_date=pendulum.datetime(2025, 4, 1, tz="America/New_York"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=2)},
    tags=["v3"],
    doc_md="Cleans orders when they land.",
):
    begin = EmptyOperator(task_id="begin")
    clean = BashOperator(
        task_id="clean",
        bash_command="clean --in {{ params.src }} --date {{ logical_date | ds }}",
        params={"src": "orders"},
        outlets=[clean_orders],
        skip_on_exit_code=[99, 100],
        env={"MODE": "strict"},
        append_env=True,
    )
    end = EmptyOperator(task_id="end")
    chain(begin, clean, end)
