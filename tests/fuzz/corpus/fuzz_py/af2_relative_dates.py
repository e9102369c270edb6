"""start_date forms relative to parse time (warned about by the importer)."""
from datetime import datetime, timedelta

import pendulum
from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.utils import timezone
from airflow.utils.dates import days_ago

with DAG("rel_days_ago", start_date=days_ago(1), schedule="@daily"):
    EmptyOperator(task_id="t")

with DAG("rel_now_minus", start_date=datetime.now() - timedelta(days=3), schedule="@daily"):
    EmptyOperator(task_id="t")

with DAG("rel_pendulum", start_date=pendulum.today("UTC").add(days=-2), schedule="@daily"):
    EmptyOperator(task_id="t")

with DAG("rel_utcnow", start_date=timezone.utcnow().replace(hour=0, minute=0), schedule="@daily"):
    EmptyOperator(task_id="t")

with DAG("abs_timezone", start_date=timezone.datetime(2022, 2, 2), schedule="@daily",
         end_date=datetime.strptime("2022-12-31", "%Y-%m-%d")):
    EmptyOperator(task_id="t")
