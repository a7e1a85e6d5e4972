"""The foo.com cluster lab: seven real machines from a 2006 LAMP article.

Layers, arrows pointing down only:
  cli            the only layer that prints
  status         the facts the status table shows
  checks         facts read through real clients (DNS, MySQL, HTTP, docker)
  driver         Compose lifecycle, exec into a host, engine set-up
  config, secrets, topology   plain data, no Docker
"""

__version__ = "0.1.0"
