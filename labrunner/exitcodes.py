"""What each exit status of `labrunner` means, for scripts and CI (README.md, "Exit codes").

- 0 `OK`: every check passed, or the command did what it says.
- 1 `FAILED`: a check failed (the learner is not there yet), a quiz answer is wrong, or a proof of
  `dev check` did not hold: a verdict on someone's work, never on the environment.
- 2 `BAD_INPUT`: invalid input: a lab file, an argument, an unknown lab, step or choice, a request the
  lab's state does not allow (solving a step of a lab not started), a report file that cannot be made.
- 3 `ERROR`: the cluster or the environment: the cluster is unreachable, the API server refused or
  timed out, a check could not run, a tool (kind, docker, kubectl) is missing or failed, `doctor`
  found something the labs need missing, a report could not be written.
- 130 `INTERRUPTED`: Ctrl-C (128 + SIGINT, as shells report it), with a line on what may be left.

Output into a closed pipe (`labrunner list | head -1`) changes none of these: the command finishes
its work quietly and exits with its own status.
"""

from __future__ import annotations

OK = 0
FAILED = 1
BAD_INPUT = 2
ERROR = 3
INTERRUPTED = 130
