"""Airflow 3 timetables and pendulum dates."""
import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG
from airflow.timetables.events import EventsTimetable
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.timetables.trigger import CronTriggerTimetable, MultipleCronTriggerTimetable

TZ = pendulum.timezone("Europe/Amsterdam")

with DAG(
    "cron_trigger",
    schedule=CronTriggerTimetable("30 7 * * 1-5", timezone=TZ),
    start_date=pendulum.datetime(2025, 1, 1, tz=TZ),
    end_date=pendulum.datetime(2025, 12, 31, 23, 59, tz=TZ),
    catchup=False,
):
    EmptyOperator(task_id="work")

with DAG(
    "cron_data_interval",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1),
):
    EmptyOperator(task_id="work")

with DAG(
    "multi_cron",
    schedule=MultipleCronTriggerTimetable("0 6 * * *", "0 18 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1),
):
    EmptyOperator(task_id="work")

with DAG(
    "events",
    schedule=EventsTimetable(
        event_dates=[pendulum.datetime(2025, 3, 1, 8), pendulum.datetime(2025, 6, 1, 8)],
        restrict_to_events=True,
    ),
    start_date=pendulum.datetime(2025, 1, 1),
):
    EmptyOperator(task_id="work")
