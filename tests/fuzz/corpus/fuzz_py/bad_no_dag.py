"""Helpers only: no DAG here."""
import os


def helper():
    return os.getcwd()
