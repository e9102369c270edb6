"""HTTP in Airflow 3: HttpOperator from the http provider, TaskFlow around it."""
import pendulum
from airflow.providers.http.operators.http import HttpOperator
from airflow.sdk import DAG, task

with DAG(
    dag_id="http_operator_v3",
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
):
    put = HttpOperator(
        task_id="put_op",
        method="PUT",
        endpoint="api/items/1",
        data='{"name": "x"}',
        headers={"Content-Type": "application/json"},
        extra_options={"timeout": 30},
    )

    @task
    def summarize(payload):
        return len(payload)

    summarize(put.output)
