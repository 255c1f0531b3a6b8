"""A fake `docker` and `kind` (run by a wrapper of each name, the name first) for unit tests of `labrunner up`/`down`:
it records each argv (one JSON line in $FAKE_TOOLS_LOG) and answers from the JSON state in
$FAKE_TOOLS_STATE, which it updates as the real tools would change what they hold. It stands in
only at our boundary, the command lines labrunner runs; `make kind-test` runs the real ones."""

import json
import os
import sys
from pathlib import Path

tool, args = sys.argv[1], sys.argv[2:]  # the wrapper named docker or kind passes its name
state_file = Path(os.environ["FAKE_TOOLS_STATE"])
state = json.loads(state_file.read_text())
with open(os.environ["FAKE_TOOLS_LOG"], "a") as log:
    log.write(json.dumps([tool, *args]) + "\n")
code = 0
images, containers, clusters = state.setdefault("images", []), state.setdefault("containers", {}), state.setdefault("clusters", [])
labelled = state.setdefault("labelled", {})  # cluster -> container ids cloud-provider-kind made for it


def value(flag):
    return args[args.index(flag) + 1]


if tool == "docker":
    verb = args[0]
    if verb == "info":
        pass
    elif args[:2] == ["image", "inspect"]:
        code = 0 if args[-1] in images else 1
    elif verb == "pull":
        if args[1] in state.get("pullable", []):
            images.append(args[1])
        else:
            code = 1
    elif verb == "inspect":
        if args[-1] in containers and ".Args" in args[args.index("--format") + 1]:
            print(json.dumps(state.get("args", {}).get(args[-1], [])))
        elif args[-1] in containers:
            print(containers[args[-1]])
        else:
            code = 1
    elif verb == "start":
        containers[args[1]] = "running"
    elif verb == "stop":
        containers[args[1]] = "exited"
    elif verb == "run":
        if state.get("run_fails"):
            code = 125
        else:
            containers[value("--name")] = "running"
            tail = args[max(i for i, a in enumerate(args) if "/" in a and ":" in a and not a.startswith("/")) + 1:]
            state.setdefault("args", {})[value("--name")] = tail  # what follows the image: the program's arguments
    elif verb == "ps":
        cluster = value("--filter").rsplit("=", 1)[1]
        print("\n".join(labelled.get(cluster, [])))
    elif verb == "rm":
        for name in args[2:]:
            containers.pop(name, None)
            for ids in labelled.values():
                if name in ids:
                    ids.remove(name)
    else:
        code = 2
elif tool == "kind":
    if args[:2] == ["get", "clusters"]:
        print("\n".join(clusters))
    elif args[:2] == ["create", "cluster"]:
        clusters.append(value("--name"))
    elif args[:2] == ["delete", "cluster"]:
        if value("--name") in clusters:
            clusters.remove(value("--name"))
    elif args[:2] == ["export", "kubeconfig"]:
        code = 0 if value("--name") in clusters else 1
    elif args[:2] == ["load", "docker-image"]:
        code = 0 if args[-1] in images else 1
    elif args[:2] == ["load", "image-archive"]:  # records the names the archive's OCI index gives
        import tarfile

        try:
            with tarfile.open(args[-1]) as tar:
                index = json.loads(tar.extractfile("index.json").read())
            state.setdefault("node_images", []).extend(m["annotations"]["io.containerd.image.name"]
                                                       for m in index["manifests"])
        except (OSError, KeyError, tarfile.TarError, ValueError):
            code = 1
    else:
        code = 2
state_file.write_text(json.dumps(state))
sys.exit(code)
