import pendulum
from airflow.decorators import dag, task


@dag(start_date=pendulum.datetime(2024, 1, 1))
def never_called():
    pass
