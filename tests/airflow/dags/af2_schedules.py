"""Schedules of every kind, one DAG each: None, presets, cron, timedelta, timetables, datasets."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.datasets import Dataset
from airflow.operators.empty import EmptyOperator
from airflow.timetables.trigger import CronTriggerTimetable

START = datetime(2024, 1, 1)
orders = Dataset("s3://lake/orders")

SCHEDULES = {
    "manual": None,
    "once": "@once",
    "continuous": "@continuous",
    "hourly": "@hourly",
    "weekly": "@weekly",
    "monthly": "@monthly",
    "quarterly": "@quarterly",
    "yearly": "@yearly",
    "cron": "15 */2 * * 1-5",
    "delta": timedelta(hours=6, minutes=30),
    "timetable": CronTriggerTimetable("0 1 * * *", timezone="Europe/Berlin"),
    "dataset": [orders, Dataset("s3://lake/customers")],
}

for name, schedule in SCHEDULES.items():
    with DAG(f"schedule_{name}", schedule=schedule, start_date=START, catchup=name == "hourly",
             max_active_runs=3 if name == "delta" else 16):
        EmptyOperator(task_id="noop", outlets=[orders] if name == "manual" else [])

with DAG("schedule_default", start_date=START) as implicit:
    EmptyOperator(task_id="noop")
