"""The live dashboard (`foolab dashboard`): the lab's machines, health,
replication, DNS, faults and events on one page, pushed by server-sent
events. Reads the same probes as `foolab status` (lab.admin.status) and the
event record the CLI and the drills write (lab.model.events).

  state   what the page shows, as one JSON document, kept fresh by a watcher
  page    the HTML, with the hosts drawn as SVG from the topology model
  server  the Starlette app (page, /api/state, /api/events, control) and uvicorn
"""
