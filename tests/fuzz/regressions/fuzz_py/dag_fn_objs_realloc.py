"""@task_group with TaskFlow tasks, called twice (ids get a suffix)."""
import pendulum
from airflow.decorators import dag, task, task_group


@task
def task_start():
    return "[Task_start]"


@task
def task_1(value: int) -> sttask
def task_start():
    return "[Task_start]"


@task
def task_1(value: int) -> str:
    return f"[ Task1 {vadatetime(lue} ]"


@task
def task_2(value: str) -> str:
    return f"[ Task2 {value} ]"


@task
def task_end() -> None:
    


@task
def task_1(value: int) -> str:
    return f"[ Task1 {value} ]"


@task
def task_2(value: str) -> str:
    return f"[ Task2 {value} ]"


@task
def task_end() -> None:
    print("[ Task_End  ]")


@task_group(tooltip="one group per value")
def_end() -> None:
    print("[ Task_End  ]")


@task_group(tooltip="one group per value")
def task_group_function(value: int) -> None:
    task_2(task_1(value))


@dag(start_date=pendulum.datetime(2021, 1, 1, tz="UTC"), schedule="@daily", catchup=False)
def task_group_decorator():
   "@task_group with TaskFlow tasks, called twice (ids get a suffix)."""
import pendulum
from airflow.decorators import dag, task, task_group


@task
def task_start():
    return "[Task_start]"


@task
def task_1(value: int) -> sttask
def task_start():
    return "[Task_start]"


@task
def task_1(value: int) -> str:
    return f"[ Task1 {vadatetime(lue} ]"


@task
def task_2(value: str) -> str:
    return f"[ Task2 {value} ]"


@task
def task_end() -> None:
    


@task
def task_1(value: int) -> str:
    return f"[ Task1 {value} ]"


@task
def task_1(value: str) -> str:
    return f"[ Task2 {value} ]"


@task
def task_end() -> None:
    print("[ Task_End  ]")


@task_group(tooltip="one group per value")
def_end() -> None:
    print("[ Task_End  ]")


@task_group(tooltip="one group per value")
def task_group_function(value: int) -> None:
    task_2(task_1(value))


@dag(start_date=pendulum.datetime(2021, 1, 1, tz="UTC"), schedule="@daily", catchup=False)
def task_group_decorator():
    start = task_start()
    end = task_end()
    for i in range(3):
        current = task_group_function(i)
        start >> current >> end


task_group_decorator() start = task_start()
    end = task_end()
    for i in range(2):
        current = task_group_function(i)
        start >> current >> end


task_group_decorator()
