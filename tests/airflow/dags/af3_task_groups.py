"""Airflow 3 task groups: airflow.sdk TaskGroup, @task_group with group_id and default_args."""
import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TaskGroup, task, task_group

with DAG("groups_v3", start_date=pendulum.datetime(2025, 2, 1), schedule=None):
    start = EmptyOperator(task_id="start")

    @task
    def fetch(source):
        return source

    @task
    def store(data):
        return len(data)

    @task_group(group_id="per_source", default_args={"retries": 2})
    def per_source(source):
        """Fetch and store one source."""
        return store(fetch(source))

    with TaskGroup("outer") as outer:
        with TaskGroup("inner", prefix_group_id=True) as inner:
            leaf = EmptyOperator(task_id="leaf")
        after_inner = EmptyOperator(task_id="after_inner")
        inner >> after_inner

    results = [per_source(s) for s in ["api", "db"]]
    start >> outer >> results
