"""Every way of writing edges: chain with lists, cross_downstream, Label, <<, set_upstream."""
from datetime import datetime
from functools import reduce

from airflow import DAG
from airflow.models.baseoperator import chain, chain_linear, cross_downstream
from airflow.operators.empty import EmptyOperator
from airflow.utils.edgemodifier import Label

with DAG("edges_misc", start_date=datetime(2023, 1, 1), schedule=None) as dag:
    t = {name: EmptyOperator(task_id=name) for name in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"]}

    # chain: single >> list fans out, equal-length lists pair up, list >> single fans in
    chain(t["a"], [t["b"], t["c"]], [t["d"], t["e"]], t["f"])
    # cross_downstream: every upstream to every downstream
    cross_downstream([t["f"], t["g"]], [t["h"], t["i"]])
    # labels on edges
    t["h"] >> Label("when ok") >> t["j"]
    t["i"] >> Label("on error") >> t["j"]
    chain(t["j"], [Label("left"), Label("right")], [t["k"], t["l"]])
    # << and set_upstream / set_downstream
    t["k"] << t["g"]
    t["c"].set_upstream(t["g"])
    t["d"].set_downstream([t["i"], t["k"]])

with DAG("edges_linear", start_date=datetime(2023, 1, 1), schedule=None) as dag2:
    x1, x2, y1, y2, z = [EmptyOperator(task_id=n) for n in ("x1", "x2", "y1", "y2", "z")]
    chain_linear([x1, x2], [y1, y2], z)
    x1 >> x2
    y2 << [x1, x2]
    r = [EmptyOperator(task_id=f"r{i}") for i in range(3)]
    reduce(lambda a, b: a >> b, r)
