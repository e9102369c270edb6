"""Declarative branches: BranchDayOfWeekOperator and BranchDateTimeOperator."""
import pendulum
from airflow import DAG
from airflow.operators.datetime import BranchDateTimeOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.weekday import BranchDayOfWeekOperator
from airflow.utils.weekday import WeekDay

with DAG(
    dag_id="branch_day_of_week",
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    schedule="@daily",
) as dag:
    empty_task_1 = EmptyOperator(task_id="branch_true")
    empty_task_2 = EmptyOperator(task_id="branch_false")
    empty_task_3 = EmptyOperator(task_id="branch_weekend")
    empty_task_4 = EmptyOperator(task_id="branch_mid_week")

    branch = BranchDayOfWeekOperator(
        task_id="make_choice",
        follow_task_ids_if_true="branch_true",
        follow_task_ids_if_false="branch_false",
        week_day="Monday",
    )
    branch_weekend = BranchDayOfWeekOperator(
        task_id="make_weekend_choice",
        follow_task_ids_if_true="branch_weekend",
        follow_task_ids_if_false="branch_mid_week",
        week_day={WeekDay.SATURDAY, WeekDay.SUNDAY},
        use_task_logical_date=True,
    )
    branch >> [empty_task_1, empty_task_2]
    empty_task_2 >> branch_weekend >> [empty_task_3, empty_task_4]

    in_hours = EmptyOperator(task_id="in_office_hours")
    out_hours = EmptyOperator(task_id="out_of_office_hours")
    office = BranchDateTimeOperator(
        task_id="office_hours",
        follow_task_ids_if_true=["in_office_hours"],
        follow_task_ids_if_false=["out_of_office_hours"],
        target_lower=pendulum.time(9, 0, 0),
        target_upper=pendulum.time(17, 30, 0),
    )
    office >> [in_hours, out_hours]
