"""Every trigger rule through the TriggerRule enum (Airflow 2)."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.trigger_rule import TriggerRule

RULES = [
    TriggerRule.ALL_SUCCESS,
    TriggerRule.ALL_FAILED,
    TriggerRule.ALL_DONE,
    TriggerRule.ALL_DONE_MIN_ONE_SUCCESS,
    TriggerRule.ALL_SKIPPED,
    TriggerRule.ONE_SUCCESS,
    TriggerRule.ONE_FAILED,
    TriggerRule.ONE_DONE,
    TriggerRule.NONE_FAILED,
    TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    TriggerRule.NONE_SKIPPED,
    TriggerRule.ALWAYS,
]

with DAG("trigger_rules_enum", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    ok = BashOperator(task_id="ok", bash_command="true")
    fails = BashOperator(task_id="fails", bash_command="exit 1")
    skips = BashOperator(task_id="skips", bash_command="exit 99")
    for rule in RULES:
        join = EmptyOperator(task_id=f"join_{rule.value}", trigger_rule=rule)
        [ok, fails, skips] >> join
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)
    ok >> cleanup
