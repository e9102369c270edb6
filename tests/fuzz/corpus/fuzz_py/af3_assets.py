"""Airflow 3 asset-aware scheduling: a producer and a consumer with an asset condition."""
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Asset, task
import pendulum

events = Asset("s3://lake/events")
users = Asset("s3://lake/users")

with DAG("producer", schedule="@hourly", start_date=pendulum.datetime(2025, 1, 1), catchup=False):
    BashOperator(task_id="write_events", bash_command="echo events", outlets=[events])

    @task(outlets=[users])
    def write_users():
        return None

    write_users()

with DAG("consumer", schedule=(events & users), start_date=pendulum.datetime(2025, 1, 1)):
    BashOperator(task_id="read", bash_command="echo read")
