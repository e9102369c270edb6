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
**kwargs}

with D# Airflow 1.rs anh PyThon"retries_and_limits",
    default_args=.modd