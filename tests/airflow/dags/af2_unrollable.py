"""Constructs the importer cannot evaluate statically: each is reported with its line."""
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from my_company.config import load_tables

TABLES = load_tables()
MODE = os.environ.get("MODE", "batch")

with DAG(
    "unrollable",
    start_date=datetime.now() - timedelta(days=1),
    schedule="@daily",
    on_failure_callback=lambda ctx: print(ctx),
) as dag:
    first = BashOperator(task_id="first", bash_command="echo first")
    for table in TABLES:
        t = BashOperator(task_id=f"load_{table}", bash_command=f"load {table}")
        first >> t
    if MODE == "stream":
        BashOperator(task_id="stream", bash_command="stream")
    else:
        BashOperator(task_id="batch", bash_command="batch")
    n = 0
    while n < 3:
        n += 1
        BashOperator(task_id=f"retry_{n}", bash_command="echo %d" % n)
    while MODE != "off":
        BashOperator(task_id="poll", bash_command="echo poll")
        break
    BashOperator(task_id=compute_id(), bash_command="echo unknown id")
