"""The `labrunner` command line: its commands, arguments and help texts (argparse).

A bad argument exits with 2 (exitcodes.BAD_INPUT), as every other bad input does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .exitcodes import BAD_INPUT as EXIT_BAD_INPUT


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit is 2 too; keep the usage short
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"labrunner: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every `labrunner` command; parse_args exits 2 with a short usage on bad arguments."""
    parser = _Parser(prog="labrunner", description="Guided Kubernetes labs on a live cluster. "
                     "Run without a command to open the interactive lab browser.")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument("--labs", type=Path, help="folder holding the labs (default: ./labs or LABRUNNER_LABS)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("list", help="list the labs and your progress")
    p = sub.add_parser("tui", help="open the interactive lab browser (on one lab, if given)")
    p.add_argument("lab", nargs="?")
    p = sub.add_parser("show", help="show a lab, or one step's text")
    p.add_argument("lab")
    p.add_argument("step", nargs="?")
    p = sub.add_parser("start", help="set a step up on the cluster (default: your current step)")
    p.add_argument("lab")
    p.add_argument("step", nargs="?")
    p.add_argument("--catch-up", action="store_true", help="also apply the solutions of earlier steps you have not passed")
    p = sub.add_parser("check", help="run a step's checks (exit 0 only when all pass)")
    p.add_argument("lab")
    p.add_argument("--step", "-s")
    p.add_argument("--json", action="store_true", help="print the results as JSON (schema/check-result-v1.json)")
    p.add_argument("--junit", type=Path, metavar="FILE",
                   help="also write the results as JUnit XML to FILE, for CI (with --watch: the last verdict)")
    p.add_argument("--watch", "-w", action="store_true", help="re-check whenever the lab namespace changes")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="re-run failing checks until all pass or SECONDS pass: kube-proxy rules, NetworkPolicy "
                        "programming, DNS caches and the RBAC authorizer lag the API (an error stays an error)")
    p = sub.add_parser("hint", help="reveal the next hint of a step")
    p.add_argument("lab")
    p.add_argument("--step", "-s")
    p = sub.add_parser("answer", help="answer a quiz step")
    p.add_argument("lab")
    p.add_argument("step")
    p.add_argument("choice")
    p = sub.add_parser("solve", help="apply a step's solution")
    p.add_argument("lab")
    p.add_argument("--step", "-s")
    p = sub.add_parser("reset", help="remove what a lab (or one step) created; --all for every lab")
    p.add_argument("lab", nargs="?")
    p.add_argument("--step", "-s")
    p.add_argument("--all", action="store_true", help="reset every lab")
    p = sub.add_parser("validate", help="check lab files without touching a cluster (exit 2 on any error)")
    p.add_argument("path", nargs="?", type=Path)

    dev = sub.add_parser("dev", help="tools for lab authors")
    dev_sub = dev.add_subparsers(dest="dev_command", metavar="DEV_COMMAND", parser_class=_Parser, required=True)
    p = dev_sub.add_parser("check", help="prove every step fails before its solution and passes after, "
                                         "every wrong answer fails and every alternative passes")
    p.add_argument("lab_ids", nargs="*", metavar="LAB")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds a step may take to pass after its solution (or an answer to settle; "
                        "default: settings.Timeouts.dev_step_pass)")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="N", help="run the whole proof N times, to catch flakes")
    p.add_argument("--step", dest="step_id", metavar="STEP", help="prove only this step of the chosen labs")
    p.add_argument("--jobs", type=positive_int, default=3, metavar="N",
                   help="prove up to N answers of a step at once, in labs that keep to their namespace (default 3)")
    dev_sub.add_parser("coverage", help="each curriculum topic and the steps that cover it")
    p = dev_sub.add_parser("schema", help="print the JSON Schema of lab files (for editors: yaml-language-server)")
    p.add_argument("--builtin", action="store_true",
                   help="only the built-in check kinds, as the repository's schema/lab-v1.json holds it")

    shop = sub.add_parser("workshop", help="instructor: seats for many learners on one cluster (docs/workshops.md)")
    shop_sub = shop.add_subparsers(dest="workshop_command", metavar="WORKSHOP_COMMAND", parser_class=_Parser,
                                   required=True)
    p = shop_sub.add_parser("create", help="make N seats (certificate, kubeconfig, namespaces, RBAC, quota) with "
                                           "the admin kubeconfig")
    p.add_argument("name")
    p.add_argument("--seats", type=int, required=True, metavar="N")
    p.add_argument("--labs", dest="lab_ids", nargs="+", metavar="LAB", help="the labs (default: every shareable lab)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for DIR/<seat>.kubeconfig")
    p = shop_sub.add_parser("delete", help="remove every object the workshop made")
    p.add_argument("name")
    p = shop_sub.add_parser("status", help="the room: seats by steps, hints, minutes on the step, stuck seats")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print the grid once as JSON")
    p = shop_sub.add_parser("export", help="write the results as csv, junit or html (one self-contained page)")
    p.add_argument("name")
    p.add_argument("--format", required=True, choices=("csv", "junit", "html"))
    p.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE (default: standard output)")

    p = sub.add_parser("bundle", help="instructor: write one archive with the labs and every image they run, "
                                      "for a room with no network (docs/workshops.md)")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--labs", dest="lab_ids", nargs="+", metavar="LAB", help="only these labs (default: every lab)")
    p.add_argument("--image", dest="images", action="append", metavar="IMAGE",
                   help="also bundle this image (repeatable)")
    p.add_argument("--platform", metavar="OS/ARCH", help="the nodes' platform (default: this machine's, linux/ARCH)")
    p.add_argument("--mirror", metavar="URL",
                   help="pull every image from this registry mirror, upstream names under path prefixes "
                        "(e.g. http://127.0.0.1:5000), instead of each image's own registry")
    p = sub.add_parser("bundle-load", help="load a bundle's images into a kind cluster or a containerd, no network")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--kind", metavar="CLUSTER", help="the kind cluster's name")
    p.add_argument("--containerd", metavar="SOCKET", help="a containerd's socket (images go to its k8s.io namespace)")
    p = sub.add_parser("up", help="create a local kind cluster for the labs")
    p.add_argument("--name", default="labrunner")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="the kind config (default: kind-config.yaml here or above, else the one labrunner ships)")
    p.add_argument("--image", metavar="IMAGE",
                   help="the node image (default: the kind config's own `image:`, else kind's default)")
    p.add_argument("--from", dest="bundle", type=Path, metavar="FILE",
                   help="load the images from this bundle (`labrunner bundle`): no pulls, no network")
    p.add_argument("--no-loadbalancer", action="store_true",
                   help="do not start cloud-provider-kind (you run a load-balancer implementation yourself)")
    p = sub.add_parser("down", help="delete the local kind cluster")
    p.add_argument("--name", default="labrunner")
    p = sub.add_parser("doctor", help="check the tools and the cluster, with a fix for each problem")
    p.add_argument("--bundle", type=Path, metavar="FILE", help="also prove every image of this bundle is on every node")
    p = sub.add_parser("addons", help="labrunner's cluster add-ons and their state; `addons install NAME` installs one")
    p.add_argument("action", nargs="?", choices=("list", "install", "authn-config"), default="list",
                   help="authn-config: print the kube-apiserver's AuthenticationConfiguration (--authentication-config) "
                        "that trusts the OpenID Connect issuers of the installed add-ons")
    p.add_argument("names", nargs="*", metavar="NAME", help="add-ons to install (default: those the labs need)")
    return parser


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (ValueError or ArgumentTypeError otherwise)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value
