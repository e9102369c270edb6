"""DAG ids made from the file name, a common real-world idiom."""
import os
from datetime import datetime
from pathlib import Path

from airflow import DAG
from airflow.operators.bash import BashOperator

DAG_ID = os.path.basename(__file__).replace(".py", "")
OTHER_ID = Path(__file__).stem + "_v2"
BASE, EXT = os.path.splitext(os.path.basename(__file__))
SQL_DIR = os.path.join(os.path.dirname(__file__), "sql")

with DAG(DAG_ID, start_date=datetime(2024, 5, 1), schedule="@daily", catchup=False,
         template_searchpath=[SQL_DIR]) as dag:
    BashOperator(task_id="run", bash_command=f"echo {BASE}{EXT}")

with DAG(dag_id=OTHER_ID, start_date=datetime(2024, 5, 1), schedule=None):
    BashOperator(task_id="run", bash_command="echo " + Path(__file__).name)
