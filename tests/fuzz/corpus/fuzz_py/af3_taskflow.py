"""Airflow 3 TaskFlow: airflow.sdk dag/task, @task.bash with literal commands."""
from datetime import datetime, timedelta

from airflow.sdk import dag, task

GREETING = "hello"


@dag(dag_id="bash_taskflow", schedule="0 0 * * 1", start_date=datetime(2025, 1, 6), catchup=False,
     dagrun_timeout=timedelta(minutes=90))
def bash_taskflow(name: str = "world"):
    @task.bash
    def say_hello() -> str:
        return f"echo {GREETING} from {{{{ ds }}}}"

    @task.bash(env={"WHO": "airflow"}, retries=2)
    def say_env():
        return "echo $WHO"

    @task.bash
    def dynamic(who):
        return f"echo {who}"

    @task
    def who():
        return "someone"

    say_hello() >> say_env() >> dynamic(who())


bash_taskflow()
