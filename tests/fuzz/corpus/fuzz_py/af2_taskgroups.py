"""Nested TaskGroups (Airflow 2): group >> group, group defaults, prefix_group_id."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG("task_groups", start_date=datetime(2023, 6, 1), schedule="@hourly", catchup=False) as dag:
    start = EmptyOperator(task_id="start")

    with TaskGroup("section_1", tooltip="Tasks for section_1") as section_1:
        task_1 = EmptyOperator(task_id="task_1")
        task_2 = BashOperator(task_id="task_2", bash_command="echo 1")
        task_3 = EmptyOperator(task_id="task_3")
        task_1 >> [task_2, task_3]

    with TaskGroup("section_2", tooltip="Tasks for section_2", default_args={"retries": 4}) as section_2:
        task_1 = EmptyOperator(task_id="task_1")
        with TaskGroup("inner_section_2", tooltip="Tasks for inner_section2") as inner_section_2:
            task_2 = BashOperator(task_id="task_2", bash_command="echo 1")
            task_3 = EmptyOperator(task_id="task_3")
            task_4 = EmptyOperator(task_id="task_4")
            [task_2, task_3] >> task_4
        task_1 >> inner_section_2

    with TaskGroup(group_id="flat", prefix_group_id=False) as flat:
        a = EmptyOperator(task_id="unprefixed_a")
        b = EmptyOperator(task_id="unprefixed_b")

    end = EmptyOperator(task_id="end")

    start >> section_1 >> section_2 >> end
    start >> flat >> end
