"""The foo.com cluster lab: seven real machines from a 2006 LAMP article.

Subpackages by family, arrows pointing down only (tests/test_layers.py):
  cli        the only layer that prints; subcommands mirror the Makefile
  bench      make bench: figures measured and written to bench/, docs/
  classweb   the class's web server: a student's lab, terminal and self-check
             in a browser, the teacher's live grid; access checked per route
  exercises  seeded breakages for students, the grader (goals read from the lab)
  load       the load study: Locust generator, statistics, report, plots
  dashboard  the live page for the projector: state pushed by server-sent events
  drills     faults (nemesis), workloads (generator), verdicts (checker),
             runbooks: the step engine and the article's procedures
  admin      what an administrator changes: zone, balancer, sessions, status
  hosts      a service on a host: Apache, BIND, MariaDB, the rsync push; the
             only place that edits a host's configuration (Lab.run quotes)
  probes     facts read through the real clients: named (DNS), mysql, pages
  engine     Docker and Compose: the Lab driver, processes, routes, images
  model      plain data, no Docker: topology (hosts and their roles: master,
             replica, primary_dns, content_source, ...), the article's facts,
             config, secrets, errors, figures
"""

__version__ = "0.1.0"
