"""What is asked of a service on a host: Apache, BIND, MariaDB, the rsync
push. The transport is the engine's (`Lab.exec`, `Lab.run`, the one door
that quotes every value); these modules say what to run, in the article's
terms, and are the only place that edits a host's configuration."""
