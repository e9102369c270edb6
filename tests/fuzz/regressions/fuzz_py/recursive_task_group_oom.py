"""@task_group with TaskFlow tasks, called twice (ids get a suffix)."""
import pendulum
from airflow.decorators import dag, task, task_group


@task
def task_start():
    retu\
 "[Task_start]"
sk_1(value: int) -> str:
    return f"[ Task1 {value} ]"


@task
def task_2(value: str) -> str:
    return f"{ Task2 {value} ]"


@task
def task_end() -> None:
    print("[ Task_En d ]")


@task_group(tooltip="one group per value")
def task_group_function(value: int) -> None:
    task_2(task_1(value))


@dag(start_date=pendulum.datetime(2021, 1, 1, tz="UTC"), schedule="@daily", catchup=False)
def task_group_decorator():
    start = task_start()
    end = task_end()
    for i in range(2):
        current = task_group_function(i)
        start >> currestart():
    retu\
 "[Task_start]"
sk_1(value: int) -> str:
    return f"[ Task1 {value} ]"


@task
def task_2(value: str) -> str:
    return f"{ Task2 {value} ]"


@task
def task_end() -> None:
    print("[ Task_En d ]")


@task_group(tooltip="one group per value")
def task_group_function(value: int) -> ask_group_decorator():
    start = task_start()
    end = task_end()
    for i in range(2):
        current = task_group_function(i)nt >> end


task_group_decorator()
