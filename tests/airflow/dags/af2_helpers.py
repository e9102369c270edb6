"""Helper functions that build tasks, configuration from the environment and Variables."""
import os
from datetime import datetime

from airflow import DAG
from airflow.models import Variable
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator

ENV = os.environ.get("DEPLOY_ENV", "dev")
BUCKET = os.getenv("DATA_BUCKET")
API_KEY = Variable.get("api_key")
SETTINGS = Variable.get("settings", default_var={}, deserialize_json=True)
HOME = os.environ["HOME"]
PREFIX = "s3://%s/%s" % ("lake", "raw")


def bash(task_id, cmd, retries=1, **extra):
    return BashOperator(task_id=task_id, bash_command=cmd, retries=retries, **extra)


def ingest_pipeline(source, tables):
    start = EmptyOperator(task_id=f"{source}_start")
    loads = [bash(f"{source}_{t}", "load {} {}".format(source, t), pool="ingest") for t in tables]
    start >> loads
    return loads


with DAG("helpers", start_date=datetime(2023, 9, 1), schedule="@daily", catchup=False,
         default_args={"owner": "team-" + "data", "env": ENV}) as dag:
    crm = ingest_pipeline("crm", ["accounts", "contacts"])
    erp = ingest_pipeline("erp", ["invoices"])
    merge = bash("merge", "merge --to " + PREFIX + " --key " + API_KEY, retries=3)
    crm >> merge
    erp >> merge
    notify = bash("notify", f"notify {ENV} {BUCKET} {HOME}")
    merge >> notify
