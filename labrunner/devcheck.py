"""`labrunner dev check`: every step fails before its solution and passes after;
every wrong answer of a step fails, every alternative passes.

Each proof runs in a fresh namespace of its own brought to the step's start:
the earlier steps' setup and solutions are applied first (the state a learner
reaches), then the step's setup. A step's checks must then not pass, and must
pass after its solution. A wrong answer's `do` must leave each check its
`fails` names failing with the given text while the step never passes; an
alternative's `do` must make the step pass. Labs run in parallel. A lab's steps
run one after another; a step's answers run a few at a time when the lab keeps
to its namespace, else one after another, because cluster-scoped objects
(PersistentVolumes, RuntimeClasses, CSRs), fixed node ports and `run:` commands
carry fixed names and would collide.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping

from . import runner
from .checks import Status
from .cluster import LAB_LABEL, Cluster, delete_labelled, delete_namespace, ensure_namespace, wait_until
from .cluster.probepods import delete_outside_probes
from .errors import LabrunnerError
from .model import Answer, Lab, Step, fill_namespace
from .progress import Progress
from .session import answer_quiz
from .settings import TIMEOUTS

# How long a `run:` command of an answer may take, in seconds.
RUN_TIMEOUT = TIMEOUTS.answer_command  # s (settings.Timeouts)


@dataclass(frozen=True)
class StepProof:
    lab_id: str
    step_id: str
    before: Status | None
    after: Status | None
    setup_seconds: float
    check_seconds: float
    problem: str = ""

    @property
    def flipped(self) -> bool:
        return not self.problem and self.before is Status.FAIL and self.after is Status.PASS


@dataclass(frozen=True)
class AnswerProof:
    """The verdict on one wrong answer ("wrong") or alternative ("alternative");
    `problem` is empty when the proof holds."""

    lab_id: str
    step_id: str
    answer_id: str
    kind: str
    seconds: float
    problem: str = ""

    @property
    def proven(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class Shell:
    """How `run:` commands reach the cluster in use: the environment they get."""

    kubeconfig: str | None = None

    def env(self, namespace: str) -> dict[str, str]:
        env = {**os.environ, "LAB_NAMESPACE": namespace}
        if self.kubeconfig:
            env["KUBECONFIG"] = self.kubeconfig
        return env


def shell_for(kubeconfig: str | None, context: str | None) -> Shell:
    """The kubeconfig `labrunner` itself uses (--kubeconfig, else KUBECONFIG, else
    ~/.kube/config); with --context, a minified copy holding only that context
    (kubectl has no context variable). The copy is removed when the process exits."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if not context:
        return Shell(path)
    if shutil.which("kubectl") is None:
        return Shell(path)  # each `run:` then reports the missing kubectl itself
    proc = subprocess.run(["kubectl", "config", "view", "--minify", "--flatten", f"--kubeconfig={path}",
                           f"--context={context}"], capture_output=True, text=True,
                          timeout=TIMEOUTS.kind_kubeconfig)
    if proc.returncode != 0:
        raise LabrunnerError(f"cannot read context {context!r} from {path}: {proc.stderr.strip()}")
    handle = tempfile.NamedTemporaryFile("w", prefix="labrunner-kubeconfig-", suffix=".yaml", delete=False)
    with handle:
        handle.write(proc.stdout)
    import atexit

    atexit.register(lambda: os.path.exists(handle.name) and os.unlink(handle.name))
    return Shell(handle.name)


# Kubernetes limits a namespace name to 63 characters (an RFC 1123 label).
NAMESPACE_NAME_MAX = 63


def dev_namespace(lab: Lab, index: int, run: str = "") -> str:
    """A namespace of its own per run, so authors checking the same lab on one cluster do not collide:
    "lrdev-<lab id>-<step index>[-<run>]", the lab id cut short when needed so that every
    "<namespace>-<suffix>" of the lab's answers (`namespace:` in `do`) is a valid name too."""
    tail = f"-{index}" + (f"-{run}" if run else "")
    longest = max((len(group.namespace) + 1 for step in lab.steps for answer in (*step.wrong, *step.alternatives)
                   for group in answer.do if group.namespace), default=0)
    room = max(1, NAMESPACE_NAME_MAX - len("lrdev-") - len(tail) - longest)
    return f"lrdev-{lab.id[:room].rstrip('-')}{tail}"


def bring_to_start(cluster: Cluster, lab: Lab, index: int, namespace: str) -> None:
    """Earlier steps' setup and solution, then this step's setup, in `namespace` (runner.reach_step)."""
    runner.reach_step(cluster, lab, lab.steps[index], namespace=namespace)


def prove_step(cluster: Cluster, lab: Lab, step: Step, index: int, *, timeout: float) -> StepProof:
    if step.is_quiz:
        return _prove_quiz(lab, step)
    ns = dev_namespace(lab, index, secrets.token_hex(2))
    started = time.monotonic()
    before = after = None
    setup_seconds = check_seconds = 0.0
    try:
        delete_namespace(cluster, ns, wait=True)
        bring_to_start(cluster, lab, index, ns)
        setup_seconds = time.monotonic() - started
        report = runner.run_step_checks(cluster, lab, step, namespace=ns)
        before = report.status
        if before is not Status.FAIL:
            why = "; ".join(r.message for r in report.results if r.status is before)
            return StepProof(lab.id, step.id, before, None, setup_seconds, report.seconds,
                             f"before the solution the checks {'pass' if before is Status.PASS else 'error'}: {why}")
        runner.solve_step(cluster, lab, step, namespace=ns)
        checked = time.monotonic()
        report = runner.run_until_passed(cluster, lab, step, namespace=ns, timeout=timeout)
        check_seconds = time.monotonic() - checked
        after = report.status
        problem = "" if report.passed else "after the solution: " + "; ".join(
            r.message for r in report.results if not r.ok)
        return StepProof(lab.id, step.id, before, after, setup_seconds, check_seconds, problem)
    except LabrunnerError as exc:
        return StepProof(lab.id, step.id, before, after, setup_seconds, check_seconds, str(exc))
    finally:
        _clean_up(cluster, lab, [ns])


def _clean_up(cluster: Cluster, lab: Lab, namespaces: list[str]) -> None:
    """Delete the proof's namespaces and the lab's labelled cluster-scoped objects. When the lab
    has such objects, wait until they are gone: the next proof re-applies them by the same names
    (a PV, a RuntimeClass) and must not meet this one's still terminating."""
    try:
        kinds = runner.cluster_scoped_kinds(lab)
        delete_labelled(cluster, lab_id=lab.id, kinds=kinds)
        scoped = _cluster_scoped(cluster, kinds)
        for ns in namespaces:
            delete_outside_probes(cluster, ns)  # else every proof leaves probe pods in labrunner's namespace
            # Always wait: the next proof re-applies the same objects, and a NodePort (for one)
            # stays allocated until the namespace holding its Service is gone.
            delete_namespace(cluster, ns, wait=True)
        for api_version, kind in scoped:
            wait_until(cluster, kind, namespace=None, api_version=api_version, selector=f"{LAB_LABEL}={lab.id}",
                       predicate=lambda objs: not objs, describe=f"the lab's {kind} objects to be deleted",
                       timeout=TIMEOUTS.dev_labelled_gone)
    except LabrunnerError:
        pass


def _cluster_scoped(cluster: Cluster, kinds: list[tuple[str, str]]) -> list[tuple[str, str]]:
    scoped = []
    for api_version, kind in kinds:
        try:
            if kind != "Namespace" and not cluster.is_namespaced(kind, api_version):
                scoped.append((api_version, kind))
        except LabrunnerError:
            continue  # a kind this cluster does not serve has nothing to wait for
    return scoped


def _prove_quiz(lab: Lab, step: Step) -> StepProof:
    assert step.quiz is not None
    progress = Progress()
    wrong = next((c.id for c in step.quiz.choices if c.id != step.quiz.answer), None)
    before = answer_quiz(progress, lab, step, wrong).status if wrong else Status.FAIL
    after = answer_quiz(progress, lab, step, step.quiz.answer).status
    return StepProof(lab.id, step.id, before, after, 0.0, 0.0)


# -- answers -----------------------------------------------------------------------

def prove_answer(cluster: Cluster, lab: Lab, step: Step, index: int, answer: Answer, *, wrong: bool,
                 timeout: float, shell: Shell) -> AnswerProof:
    """Bring a fresh namespace to the step's start, do the answer, then judge it:
    a wrong answer must fail as its `fails` says and never pass within `timeout`
    seconds; an alternative must pass within `timeout` seconds."""
    kind = "wrong" if wrong else "alternative"
    ns = dev_namespace(lab, index, secrets.token_hex(2))
    made = [ns]
    started = time.monotonic()
    try:
        bring_to_start(cluster, lab, index, ns)
        for number, group in enumerate(answer.do):
            target = ns
            if group.namespace:
                target = f"{ns}-{group.namespace}"
                ensure_namespace(cluster, target, lab_id=lab.id)
                made.append(target)
            runner.run_actions(cluster, lab, group.actions, namespace=target)
            if group.run:
                run_command(lab, group.run, namespace=ns, shell=shell, where=f"do[{number}].run")
        if wrong:
            problem = _judge_wrong(cluster, lab, step, ns, answer.fails, timeout)
        else:
            report = runner.run_until_passed(cluster, lab, step, namespace=ns, timeout=timeout)
            problem = "" if report.passed else f"the alternative does not pass within {timeout:.0f}s: " + _shown(
                [r for r in report.results if not r.ok])
    except LabrunnerError as exc:
        problem = f"could not do the answer: {exc}"
    finally:
        _clean_up(cluster, lab, made)
    return AnswerProof(lab.id, step.id, answer.id, kind, time.monotonic() - started, problem)


def run_command(lab: Lab, text: str, *, namespace: str, shell: Shell, where: str) -> None:
    """Run an answer's `run:` text with `sh -c` in the lab folder, ${LAB_NAMESPACE} filled in.

    Raises LabrunnerError when kubectl is missing, the command exits non-zero
    or runs longer than RUN_TIMEOUT seconds: a broken proof, not a verdict.
    """
    if "kubectl" in text and shutil.which("kubectl") is None:
        raise LabrunnerError(f"{where} needs kubectl, which is not on PATH; install it or add it to PATH")
    command = fill_namespace(text, namespace)
    try:
        proc = subprocess.run(["sh", "-c", command], cwd=lab.path, env=shell.env(namespace), capture_output=True,
                              text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise LabrunnerError(f"{where} did not finish within {RUN_TIMEOUT:.0f}s: {command}") from None
    if proc.returncode != 0:
        said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        raise LabrunnerError(f"{where} exited with {proc.returncode}: {command}: {' / '.join(said)}")


def _judge_wrong(cluster: Cluster, lab: Lab, step: Step, ns: str, fails: Mapping[str, tuple[str, ...]],
                 timeout: float) -> str:
    """Re-check on every change until each named check fails with its texts; "" when it
    did and the step never passed meanwhile, else what went wrong."""

    def matched(report: runner.StepReport) -> bool:
        # A settling report's fail is provisional: the lag may still turn it into a pass.
        return report.status is Status.FAIL and not report.settling and all(_says(report, check_id, texts) for check_id, texts in fails.items())

    reports = _watch(cluster, lab, step, ns, lambda r: r.passed or matched(r), timeout)
    passed = next((r for r in reports if r.passed), None)
    if passed is not None:
        return "the wrong answer PASSES the step: " + _shown(passed.results)
    last = reports[-1]
    if matched(last):
        return ""
    unmet = [r for r in last.results if r.check_id in fails and not _says(last, r.check_id, fails[r.check_id])]
    errors = [r for r in last.results if r.status is Status.ERROR and r not in unmet]
    return (f"after {timeout:.0f}s the checks do not fail as `fails` says "
            f"(expected {dict((k, list(v)) for k, v in fails.items())}); got: " + _shown(unmet + errors))


def _says(report: runner.StepReport, check_id: str, texts: tuple[str, ...]) -> bool:
    result = next((r for r in report.results if r.check_id == check_id), None)
    if result is None or result.status is not Status.FAIL:
        return False
    said = " ".join((result.message, *result.details))
    return all(text in said for text in texts)


def _shown(results) -> str:  # noqa: ANN001
    return "; ".join(f"{r.check_id}: {r.status.value}: {' '.join((r.message, *r.details))[:300]}" for r in results)


def _watch(cluster: Cluster, lab: Lab, step: Step, ns: str, done: Callable[[runner.StepReport], bool],
           timeout: float) -> list[runner.StepReport]:
    """Every report of `runner.watch_step` until `done` says so or `timeout` seconds pass."""
    stop = threading.Event()
    reports: list[runner.StepReport] = []

    def seen(report: runner.StepReport) -> None:
        reports.append(report)
        if done(report):
            stop.set()

    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        runner.watch_step(cluster, lab, step, on_report=seen, stop=stop, namespace=ns, refresh=2.0, settle_first=True)
    finally:
        timer.cancel()
    return reports


# -- the command ---------------------------------------------------------------------

# Answers of one step proven at once when the lab keeps to its namespace: each waits mostly on
# the cluster (pods starting, verdicts settling), so a few at a time cut the wall time.
ANSWER_JOBS = 3


def keeps_to_its_namespace(cluster: Cluster, lab: Lab) -> bool:
    """Whether two proofs of `lab` can run at once, each in its own namespace: every kind its
    manifests use is namespaced on this cluster, none fixes a node port (cluster-wide), and no
    answer runs a command (which may create anything). False when the cluster cannot say."""
    if any(group.run for step in lab.steps for answer in (*step.wrong, *step.alternatives) for group in answer.do):
        return False
    try:
        if any(kind != "Namespace" and not cluster.is_namespaced(kind, api_version)
               for api_version, kind in runner.cluster_scoped_kinds(lab)):
            return False
    except LabrunnerError:
        return False
    return not any(port.get("nodePort") for m in lab.manifests() for doc in m.documents
                   if doc.get("kind") == "Service" for port in (doc.get("spec") or {}).get("ports") or [])


def prove_lab(cluster: Cluster, lab: Lab, *, timeout: float, shell: Shell = Shell(),
              step_id: str | None = None, stop: threading.Event | None = None,
              jobs: int = ANSWER_JOBS) -> list[StepProof | AnswerProof]:
    """Each step's proof, then its wrong answers' and alternatives' (up to `jobs` at once when the
    lab keeps to its namespace, else one after another); rows come back in the lab's order. No new
    proof starts once `stop` is set (Ctrl-C)."""
    proofs: list[StepProof | AnswerProof] = []
    parallel: list[bool] = []  # asked of the cluster once, when a step first has answers to prove

    def go() -> bool:
        return stop is None or not stop.is_set()

    def answer_proof(index: int, step: Step, answer: Answer, wrong: bool) -> AnswerProof | None:
        if not go():
            return None
        return prove_answer(cluster, lab, step, index, answer, wrong=wrong, timeout=timeout, shell=shell)

    for index, step in enumerate(lab.steps):
        if step_id and step.id != step_id:
            continue
        if go():
            proofs.append(prove_step(cluster, lab, step, index, timeout=timeout))
        answers = [(a, True) for a in step.wrong] + [(a, False) for a in step.alternatives]
        if answers and go() and not parallel:
            parallel.append(jobs > 1 and keeps_to_its_namespace(cluster, lab))
        if not answers or not parallel or not parallel[0]:
            done = [answer_proof(index, step, answer, wrong) for answer, wrong in answers]
        else:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix=f"labrunner-dev-{lab.id}") as pool:
                done = list(pool.map(lambda pair: answer_proof(index, step, *pair), answers))
        proofs += [proof for proof in done if proof is not None]
    return proofs


# Exit code of a dev check stopped with Ctrl-C once the proofs under way had cleaned up.
EXIT_INTERRUPTED = 130


def _prove_labs(cluster: Cluster, labs: list[Lab], stop: threading.Event, **options) -> list[StepProof | AnswerProof]:  # noqa: ANN003
    """Every lab's proofs, the labs in parallel on daemon threads (an executor's threads would be
    joined at exit, so a second Ctrl-C could not leave). On Ctrl-C: no new proof starts, the ones
    under way finish and delete their namespaces; a second Ctrl-C leaves them (KeyboardInterrupt)."""
    found: list[list[StepProof | AnswerProof]] = [[] for _ in labs]

    def work(index: int, lab: Lab) -> None:
        found[index] = prove_lab(cluster, lab, stop=stop, **options)

    threads = [threading.Thread(target=work, args=(i, lab), daemon=True, name=f"labrunner-dev-{lab.id}")
               for i, lab in enumerate(labs)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        stop.set()
        print("\nlabrunner: interrupted; letting the proofs under way finish and delete their namespaces "
              "(Ctrl-C again to leave them)", file=sys.stderr, flush=True)
        for thread in threads:
            thread.join()
    return [p for lab_proofs in found for p in lab_proofs]


def dev_check(cluster: Cluster, labs: list[Lab], *, timeout: float = TIMEOUTS.dev_step_pass, repeat: int = 1,
              step_id: str | None = None, shell: Shell = Shell(), jobs: int = ANSWER_JOBS) -> int:
    """Prove `labs` `repeat` times (to catch flakes), print one row per proof; 1 when any failed, else 0;
    EXIT_INTERRUPTED after a Ctrl-C, once the proofs under way have cleaned up (their rows are printed)."""
    failures: list[tuple[int, str]] = []
    stop = threading.Event()
    for run in range(1, repeat + 1):
        if repeat > 1:
            print(f"\n=== run {run}/{repeat}")
        started = time.monotonic()
        proofs = _prove_labs(cluster, labs, stop, timeout=timeout, shell=shell, step_id=step_id, jobs=jobs)
        failures += [(run, name) for name in _print_run(proofs, time.monotonic() - started)]
        if stop.is_set():
            print("labrunner: stopped; the proofs above are all that ran", file=sys.stderr)
            return EXIT_INTERRUPTED
    if repeat > 1:
        print(f"\n{repeat} runs, {len({r for r, _ in failures})} with a failed proof")
        for run, name in failures:
            print(f"  run {run}: {name}")
    return 1 if failures else 0


def _print_run(proofs: list[StepProof | AnswerProof], seconds: float) -> list[str]:
    """Print the rows and the total; returns the names of the failed proofs."""
    steps = [p for p in proofs if isinstance(p, StepProof)]
    answers = [p for p in proofs if isinstance(p, AnswerProof)]
    print(f"{'lab/step':<40} {'before':<7} {'after':<7} {'setup':>7} {'to pass':>8}  result")
    for proof in steps:
        name = f"{proof.lab_id}/{proof.step_id}"
        verdict = "ok" if proof.flipped else f"DOES NOT FLIP: {proof.problem}"
        print(f"{name:<40} {_s(proof.before):<7} {_s(proof.after):<7} {proof.setup_seconds:>6.1f}s "
              f"{proof.check_seconds:>7.1f}s  {verdict}")
    if answers:
        print(f"\n{'lab/step/answer':<56} {'kind':<12} {'time':>7}  result")
        for answer in answers:
            name = f"{answer.lab_id}/{answer.step_id}/{answer.answer_id}"
            verdict = "ok" if answer.proven else f"FAILED: {answer.problem}"
            print(f"{name:<56} {answer.kind:<12} {answer.seconds:>6.1f}s  {verdict}")
    bad_steps = [f"{p.lab_id}/{p.step_id}" for p in steps if not p.flipped]
    bad_answers = [f"{p.lab_id}/{p.step_id}/{p.answer_id}" for p in answers if not p.proven]
    print(f"\n{len(steps) - len(bad_steps)}/{len(steps)} steps flip from fail to pass, "
          f"{len(answers) - len(bad_answers)}/{len(answers)} wrong answers and alternatives proven ({seconds:.0f}s)")
    return bad_steps + bad_answers


def _s(status: Status | None) -> str:
    return status.value if status else "-"
