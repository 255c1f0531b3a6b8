"""`labrunner workshop ...` and a learner's commands on a seat kubeconfig, without a cluster: bad input
is refused (exit 2) before any connection, and a seat's texts name the seat's namespace."""

import pytest
import yaml

from labrunner import cli
from labrunner.workshop.seats import SEAT_EXTENSION


@pytest.fixture
def unreachable(tmp_path):
    """A kubeconfig whose server never answers: a command that reaches for the cluster exits 3, not 2."""
    path = tmp_path / "admin.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u",
                                               "extensions": [{"name": SEAT_EXTENSION,
                                                               "extension": {"workshop": "kube-101", "seat": "seat-07"}}]}}]}))
    return str(path)


@pytest.mark.parametrize(("args", "said"), [
    (["create", "Kube 101", "--seats", "3", "--out", "x"], "workshop name 'Kube 101'"),
    (["create", "kube", "--seats", "0", "--out", "x"], "--seats 0: a workshop has 1 to 200 seats"),
    (["create", "kube", "--seats", "10000", "--out", "x"], "--seats 10000"),
    (["create", "kube", "--seats", "2", "--labs", "storage", "--out", "x"], "lab storage: it creates the PersistentVolume"),
    (["create", "kube", "--seats", "2", "--labs", "nope", "--out", "x"], "no lab 'nope'"),
    (["delete", "x_y"], "workshop name 'x_y'"),
])
def test_bad_workshop_input_is_refused_before_any_cluster_work(args, said, unreachable, capsys):
    assert cli.main(["--kubeconfig", unreachable, "workshop", *args]) == 2
    assert said in capsys.readouterr().err


def test_a_seat_reads_its_own_namespace_in_the_step_texts(unreachable, capsys):
    assert cli.main(["--kubeconfig", unreachable, "show", "services", "clusterip"]) == 0
    out = capsys.readouterr().out
    assert "kube-101-seat-07-services" in out and "lab-services" not in out
