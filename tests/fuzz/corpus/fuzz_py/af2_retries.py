"""Retries, timeouts and run limits: DAG level, default_args and task level."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

default_args = {
    "owner": "ops",
    "depends_on_past": True,
    "wait_for_downstream": False,
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=20),
    "email_on_failure": True,
    "email_on_retry": False,
}

with DAG(
    dag_id="retries_and_limits",
    default_args=default_args,
    start_date=datetime(2024, 6, 1, 2, 0, 0),
    end_date=datetime(2024, 12, 31),
    schedule=timedelta(days=1),
    catchup=True,
    max_active_runs=2,
    max_active_tasks=4,
    dagrun_timeout=timedelta(hours=3, minutes=30),
) as dag:
    flaky = BashOperator(task_id="flaky", bash_command="curl -f https://example.com/health")
    careful = BashOperator(
        task_id="careful",
        bash_command="./slow.sh ",
        retries=0,
        depends_on_past=False,
        execution_timeout=timedelta(hours=1),
    )
    tuned = BashOperator(
        task_id="tuned",
        bash_command="echo tuned",
        retries=5,
        retry_delay=timedelta(minutes=1),
        retry_exponential_backoff=False,
    )
    flaky >> careful >> tuned
