"""Task-generating loops: literal lists, range, dict items, enumerate, f-string ids."""
from datetime import datetime

from airflow import DAG
from airflow.models.baseoperator import chain
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator

TABLES = ["users", "orders", "events"]
REGIONS = {"eu": "eu-west-1", "us": "us-east-1"}

with DAG("loops", start_date=datetime(2022, 1, 1), schedule="0 3 * * *", catchup=False) as dag:
    begin = EmptyOperator(task_id="begin")
    done = EmptyOperator(task_id="done")
    for table in TABLES:
        extract = BashOperator(task_id=f"extract_{table}", bash_command=f"echo extract {table}")
        load = BashOperator(task_id=f"load_{table}", bash_command="echo load %s" % table)
        begin >> extract >> load >> done

    shards = []
    for i in range(3):
        shards.append(BashOperator(task_id=f"shard_{i:02d}", bash_command=f"echo shard {i} of 3"))
    done >> shards

    for name, region in REGIONS.items():
        BashOperator(task_id=f"sync_{name}", bash_command="aws s3 sync --region {} .".format(region))

    steps = [EmptyOperator(task_id="step_{}".format(n)) for n in ["a", "b", "c"]]
    chain(*steps)
    for idx, table in enumerate(TABLES, start=1):
        if idx == 2:
            continue
        EmptyOperator(task_id=f"check_{idx}_{table}")
