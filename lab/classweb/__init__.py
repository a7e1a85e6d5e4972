"""The class's web server (`foolab class serve`): each student in their own
lab from a browser, and nowhere else; the teacher's live grid of the class.

Grown from the dashboard (Starlette, uvicorn, server-sent events) one floor
above the exercises it grades: access (tokens, sessions, the login brake),
class_watch (one probe loop for the whole class, whatever the pages open),
terminal (a shell inside a lab container, over a WebSocket), grades
(self-checks and the class's grade table with when each goal was first met),
class_pages (HTML), edge (what meets a request first: headers, the body
limit, a proxy's word), class_server (the routes, each checked for access)
and holds (the README's "What holds", written from the limits).
"""
