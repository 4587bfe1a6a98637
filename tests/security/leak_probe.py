"""Not collected by the suite (no ``test_`` prefix): test_output_scan.py runs it in a
pytest-xdist subprocess to prove a worker's finding fails the whole run."""

import logging


def test_a_worker_logs_a_clear_number():
    logging.getLogger("keycare.probe").warning("customer 13812345678 called")
