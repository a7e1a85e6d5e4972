"""A class's roster: who the students are, which lab is whose, the secret
link of each, and the seed of each student's exercise.

Read from a teacher's CSV (`name,email`, one student a line, a header line
allowed); kept as `.lab/class/roster.json`, mode 0600, beside the labs'
state folders, and forgotten by `foolab class down`. A student's seed is an
HMAC of their e-mail under the class secret: the same student, the same
breakage all term; another student, another one; and nobody can work out a
seed from an e-mail address alone. Nothing here talks to Docker.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.model import class_layout
from lab.model.errors import LabError

FILE_NAME = "roster.json"  # in the class root (.lab/class/)
EMAIL = re.compile(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+")
TEACHER = "teacher"  # the principal of the teacher's token
TOKEN_BYTES = 24  # secrets.token_urlsafe: 32 characters, 192 bits


@dataclass(frozen=True)
class Student:
    """One line of the roster, with the lab and secret link given to it."""

    name: str
    email: str
    lab: str
    token: str

    def as_row(self, base_url: str) -> dict[str, str]:
        """What `foolab class access` prints for this student."""
        return {"name": self.name, "email": self.email, "lab": self.lab,
                "link": join_link(base_url, self.token)}


@dataclass
class Roster:
    """The students, the class secret (seeds) and the teacher's token."""

    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    teacher_token: str = field(default_factory=lambda: secrets.token_urlsafe(TOKEN_BYTES))
    students: list[Student] = field(default_factory=list)

    def seed(self, lab: str) -> str | None:
        """The exercise seed of the student in `lab` (None: no student there)."""
        student = self.by_lab(lab)
        if student is None:
            return None
        digest = hmac.new(self.secret.encode(), student.email.lower().encode(), hashlib.sha256)
        return digest.hexdigest()[:16]

    def by_lab(self, lab: str) -> Student | None:
        return next((s for s in self.students if s.lab == lab), None)

    def principal(self, token: str) -> str | None:
        """The lab a token opens, TEACHER for the teacher's, None for no
        token of this class. Compared in constant time against every token,
        so the time taken says nothing about which one was close."""
        found = None
        given = token.encode()
        for s in self.students:
            if hmac.compare_digest(s.token.encode(), given):
                found = s.lab
        if hmac.compare_digest(self.teacher_token.encode(), given):
            found = TEACHER
        return found

    def merged(self, people: list[tuple[str, str]], prefix: str = "s") -> Roster:
        """This roster with `people` (name, email) in it: a student already
        here keeps their lab and link; a new one gets the next free lab."""
        known = {s.email.lower(): s for s in self.students}
        taken = {s.lab for s in self.students}
        students = list(self.students)
        fresh = [(n, e) for n, e in people if e.lower() not in known]
        names = iter(n for n in class_layout.class_names(len(taken) + len(fresh), prefix)
                     if n not in taken)
        for name, email in fresh:
            students.append(Student(name, email, next(names),
                                    secrets.token_urlsafe(TOKEN_BYTES)))
        return Roster(self.secret, self.teacher_token, students)

    def save(self, class_root: Path) -> Path:
        """Written mode 0600 from the start: tokens and the secret are in it."""
        class_root.mkdir(parents=True, exist_ok=True)
        path = class_root / FILE_NAME
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"secret": self.secret, "teacher_token": self.teacher_token,
                       "students": [asdict(s) for s in self.students]}, f, indent=1)
            f.write("\n")
        os.chmod(path, 0o600)
        return path

    @classmethod
    def load(cls, class_root: Path) -> Roster | None:
        path = class_root / FILE_NAME
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(str(data["secret"]), str(data["teacher_token"]),
                   [Student(**s) for s in data["students"]])


def join_link(base_url: str, token: str) -> str:
    """A secret link: opening it logs the browser in (lab.classweb.class_server)."""
    return f"{base_url.rstrip('/')}/join/{token}"


def parse(text: str, source: str = "roster") -> list[tuple[str, str]]:
    """(name, email) per line of a teacher's CSV, or one LabError naming
    the first bad line. An optional first line `name,email` is a header."""
    people: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and [c.lower() for c in cells] == ["name", "email"]:
            continue
        where = f"{source} line {number}"
        if len(cells) != 2:
            raise LabError(f"{where}: {len(cells)} columns, not 2",
                           ",".join(row)[:80], "each line is: name,email")
        name, email = cells
        if not name:
            raise LabError(f"{where}: no name", ",".join(row)[:80], "each line is: name,email")
        if not EMAIL.fullmatch(email):
            raise LabError(f"{where}: {email!r} is not an e-mail address",
                           hint="each line is: name,email")
        if email.lower() in seen:
            raise LabError(f"{where}: {email} is already on line {seen[email.lower()]}",
                           hint="one line per student")
        seen[email.lower()] = number
        people.append((name, email))
    if not people:
        raise LabError(f"{source} has no student", hint="one line per student: name,email")
    return people


def read(path: Path) -> list[tuple[str, str]]:
    """parse() of a file, with a one-line error when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"cannot read roster {path}", str(exc)) from None
    return parse(text, path.name)
