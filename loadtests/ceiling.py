"""The load generator's own ceiling: how fast can Locust ask for one page?

Users without pauses ask one web server (--target, an address) for the
light page over kept-alive connections, as fast as they can. `foolab load
--ceiling` runs this, alone or as a master with workers (one process per
core), and wrk on the same URL from the same image and address, in
alternating rounds, and reports Locust's requests per second against wrk's.
"""

from __future__ import annotations

import json
import os
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.runners import WorkerRunner

SITE = os.environ["FOOLAB_SITE"]  # www.foo.com, from lab/model/article.py via lab.load


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    parser.add_argument("--target", default="", help="address of the web server to hammer")
    parser.add_argument("--page", default="/light.php", help="the page to ask for")
    parser.add_argument("--result-file", default="/out/ceiling-locust.json",
                        help="where the rate goes (JSON)")


class Hammer(FastHttpUser):
    """No think time, one kept-alive connection per user, the cheapest page."""

    host = f"http://{SITE}"
    wait_time = constant(0)

    @task
    def page(self) -> None:
        opts = self.environment.parsed_options
        self.client.get(f"http://{opts.target}{opts.page}", headers={"Host": SITE},
                        name=opts.page)


@events.quitting.add_listener
def write_result(environment: Environment, **_: Any) -> None:
    """Locust's own count and rate, as its summary shows them (master or alone)."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return  # the master has the totals of all workers
    total = environment.stats.total
    seconds = max(total.last_request_timestamp - total.start_time, 1e-9)
    warned = bool(runner and (runner.cpu_warning_emitted
                              or getattr(runner, "worker_cpu_warning_emitted", False)))
    with open(environment.parsed_options.result_file, "w", encoding="utf-8") as f:
        json.dump({"requests": total.num_requests, "failures": total.num_failures,
                   "seconds": seconds, "rps": total.total_rps, "cpu_warning": warned}, f)
