"""One voice for the testbed's messages: on stderr, so stdout's last line stays KUBECONFIG=..."""
import sys
import time

_START = time.monotonic()


def say(msg: str) -> None:
    print(f"[testbed {time.monotonic() - _START:6.1f}s] {msg}", file=sys.stderr, flush=True)
