"""Builds what the testbed runs: Go binaries from pinned upstream modules, cached by version."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from config import HERE, Config, binary_name
from log import say


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(CGO_ENABLED="0", GOFLAGS="-mod=mod")
    return env


def build_all(cfg: Config) -> None:
    """Every build the testbed runs; those marked `on_demand` are built by whoever needs them."""
    for build, spec in cfg.raw["builds"].items():
        if not spec.get("on_demand"):
            build_one(cfg, build)


def build_one(cfg: Config, build: str) -> None:
    spec = cfg.raw["builds"][build]
    version = cfg.versions[spec["version"]]
    out = cfg.build_dir(build)
    wanted = [binary_name(p) for p in spec["packages"]]
    if all((out / b).exists() for b in wanted):
        return
    if not shutil.which("go"):
        raise SystemExit("testbed: Go is needed to build the testbed (install golang, 1.24 or newer)")
    say(f"building {out.name} (cached afterwards in {out})")
    started = time.monotonic()
    # Build into a temporary folder beside the target, then rename: an interrupted build leaves nothing half-done.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{build}-", dir=out.parent))
    src_tmp = None  # a patched build's copy of the module source
    try:
        ldflags = "-s -w"
        if spec.get("version_ldflags"):
            major, minor = version.lstrip("v").split(".")[:2]
            for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
                ldflags += (f" -X {pkg}.gitVersion={version} -X {pkg}.gitMajor={major}"
                            f" -X {pkg}.gitMinor={minor} -X {pkg}.gitTreeState=clean")
        if spec.get("version_var"):
            ldflags += f" -X {spec['version_var']}={version}"
        packages = [cfg.fill(p, version=version) for p in spec["packages"]]
        if "module" in spec:
            cmd = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp) + "/", *packages]
            cwd = HERE / "go" / spec["module"]
        elif "patches" in spec:
            src_tmp = Path(tempfile.mkdtemp(prefix=f".{build}-src-", dir=out.parent))
            local = ["." + p.split("@")[0].removeprefix(spec["source"]) for p in packages]
            cmd = ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp) + "/", *local]
            cwd = patched_source(spec, version, src_tmp)
        else:
            cmd = ["go", "install", "-trimpath", "-ldflags", ldflags, *packages]
            cwd = tmp
        env = go_env() | {"GOBIN": str(tmp)}
        if "module" not in spec and "patches" not in spec:
            env["GOFLAGS"] = ""
        subprocess.run(cmd, cwd=cwd, env=env, check=True)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if src_tmp:
            shutil.rmtree(src_tmp, ignore_errors=True)
    say(f"built {out.name} in {time.monotonic() - started:.0f}s")


def patched_source(spec: dict, version: str, into: Path) -> Path:
    """A writable copy of the module `spec["source"]` at `version` (from the Go module proxy), with
    `spec["patches"]` (files in testbed/patches/, `patch -p1` format) applied in order. Returns the copy's
    root, `into`/src. A patch that does not apply exactly fails the build (CalledProcessError)."""
    dst = into / "src"
    shutil.copytree(module_dir(spec["source"], version, into), dst, copy_function=shutil.copyfile)
    for d in (dst, *(p for p in dst.rglob("*") if p.is_dir())):
        d.chmod(0o755)  # the module cache is read-only, and copytree copied its directories' modes
    for patch in spec["patches"]:
        subprocess.run(["patch", "-p1", "--batch", "--forward", "--quiet", "-d", str(dst),
                        "-i", str(HERE / "patches" / patch)], check=True)
    return dst


def build_pause(cfg: Config) -> Path:
    """The pause binary from the Kubernetes module's own C source (build/pause/linux/pause.c)."""
    out = cfg.build_dir("kubernetes") / "pause"
    if out.exists():
        return out
    src = module_dir("k8s.io/kubernetes", cfg.versions["kubernetes"], HERE / "go" / "kubernetes")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("testbed: a C compiler is needed for the pause image (install gcc)")
    tmp = out.with_suffix(".tmp")
    subprocess.run([cc, "-Os", "-static", "-o", str(tmp), "-DVERSION=testbed",
                    str(Path(src) / "build/pause/linux/pause.c")], check=True)
    tmp.rename(out)
    return out


def module_dir(module: str, version: str, cwd: Path) -> str:
    res = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=cwd,
                         env=go_env(), check=True, capture_output=True, text=True)

    return json.loads(res.stdout)["Dir"]
