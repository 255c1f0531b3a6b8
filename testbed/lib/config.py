"""Where the testbed keeps things, and its settings from testbed.toml with placeholders filled in."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # the testbed/ folder


@dataclass(frozen=True)
class Paths:
    cache: Path   # builds and the image registry's storage: kept across up/down, keyed by version
    state: Path   # the running cluster's data: removed by down
    run: Path     # sockets and pid files: removed by down

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state / "admin.kubeconfig"


def binary_name(package: str) -> str:
    """What `go install` names the binary of a package path (without its @version): its last
    element, or the one before a major-version suffix (`.../gatekeeper/v3` -> `gatekeeper`), as the
    go command does (cmd/go/internal/load, DefaultExecName)."""
    parts = package.split("@")[0].rstrip("/").split("/")
    last = parts[-1]
    if len(parts) > 1 and len(last) > 1 and last[0] == "v" and last[1:].isdigit() and int(last[1:]) >= 2:
        return parts[-2]
    return last


def default_paths() -> Paths:
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Paths(
        cache=Path(os.environ.get("TESTBED_CACHE") or cache_home / "labrunner-testbed"),
        state=Path(os.environ.get("TESTBED_STATE") or "/var/lib/labrunner-testbed"),
        run=Path(os.environ.get("TESTBED_RUN") or "/run/labrunner-testbed"),
    )


@dataclass
class Config:
    raw: dict
    paths: Paths
    values: dict[str, str] = field(default_factory=dict)

    @property
    def versions(self) -> dict[str, str]:
        return self.raw["versions"]

    @property
    def net(self) -> dict:
        return self.raw["network"]

    def fill(self, text: str, **extra: str) -> str:
        return text.format(**{**self.values, **extra})

    def build_dir(self, build: str) -> Path:
        """<cache>/<build>-<version>, plus +<local_version> for a patched build, so a changed patch
        (with its local_version bumped) is built once into a folder of its own."""
        spec = self.raw["builds"][build]
        local = f"+{spec['local_version']}" if spec.get("local_version") else ""
        return self.paths.cache / f"{build}-{self.versions[spec['version']]}{local}"

    def binary(self, name: str) -> Path:
        if name.startswith("/"):
            return Path(name)
        for build, spec in self.raw["builds"].items():
            for pkg in spec["packages"]:
                if binary_name(pkg) == name:
                    return self.build_dir(build) / name
        raise KeyError(f"testbed.toml: no build produces the binary {name!r}")

    def images(self) -> list[dict]:
        return [{**img, "name": self.fill(img["name"])} for img in self.raw["images"]]

    def image(self, kind: str) -> str:
        return next(img["name"] for img in self.images() if img["kind"] == kind)


def load_config(paths: Paths | None = None) -> Config:
    paths = paths or default_paths()
    with open(HERE / "testbed.toml", "rb") as f:
        raw = tomllib.load(f)
    cfg = Config(raw=raw, paths=paths)
    cfg.values = {
        **{k: str(v) for k, v in raw["network"].items() if isinstance(v, str)},
        **{f"{k}_version": v for k, v in raw["versions"].items()},
        "state": str(paths.state),
        "run": str(paths.run),
        "pki": str(paths.pki),
        "cache": str(paths.cache),
    }
    return cfg
