# Airflow 1.10: trigger rules as strings, including the legacy names.
from datetime import datetime

from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.operators.dummy_operator import DummyOperator

dag = DAG("trigger_rules_strings", start_date=datetime(2020, 5, 1), schedule_interval=None)

a = BashOperator(task_id="a", bash_command="true", dag=dag)
b = BashOperator(task_id="b", bash_command="false", dag=dag)

rules = ["all_success", "all_failed", "all_done", "one_success", "one_failed",
         "none_failed", "none_skipped", "none_failed_or_skipped", "dummy"]
for r in rules:
    t = DummyOperator(task_id="after_" + r, trigger_rule=r, dag=dag)
    t << [a, b]
