"""@task.branch and @task.short_circuit (Airflow 2.3+)."""
import datetime

import pendulum
from airflow.decorators import dag, task
from airflow.operators.empty import EmptyOperator


@dag(schedule="@daily", start_date=pendulum.datetime(2023, 1, 1, tz="Europe/Paris"), catchup=False)
def taskflow_branches():
    @task.branch(task_id="pick_hour")
    def pick(logical_date=None):
        return "morning" if logical_date.hour < 12 else "afternoon"

    @task.short_circuit()
    def only_mondays():
        return datetime.datetime.now().weekday() == 0

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def always_go():
        return True

    morning = EmptyOperator(task_id="morning")
    afternoon = EmptyOperator(task_id="afternoon")
    report = EmptyOperator(task_id="report", trigger_rule="none_failed_min_one_success")

    pick() >> [morning, afternoon] >> report
    only_mondays() >> always_go() >> report


taskflow_branches()
