import pytest

from labrunner import jsonpath

POD = {
    "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}, {"name": "b"}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("{.status.phase}", ["Running"]),
        (".status.phase", ["Running"]),
        ("status.phase", ["Running"]),
        ("{.spec.containers[1].name}", ["b"]),
        ("{.spec.containers[-1].name}", ["b"]),
        ("{.spec.containers[*].name}", ["a", "b"]),
        ("{.spec.containers[0].ports[0].containerPort}", [80]),
        ('{.status.conditions[?(@.type=="Ready")].status}', ["True"]),
        ("{.status.conditions[?(@.type!='Ready')].type}", ["PodScheduled"]),
        ("{.metadata.labels['app.kubernetes.io/name']}", ["web"]),
        ("{.status.missing}", []),
        ("{.spec.containers[5].name}", []),
    ],
)
def test_find(path, expected):
    assert jsonpath.find(POD, path) == expected


@pytest.mark.parametrize("path", ["", "{}", "{.a[}", "{.a b}"])
def test_unreadable_paths_raise(path):
    with pytest.raises(jsonpath.JsonPathError):
        jsonpath.parse(path)


def test_render_like_kubectl():
    assert jsonpath.render("x") == "x"
    assert jsonpath.render(True) == "true"
    assert jsonpath.render(80) == "80"
    assert jsonpath.render({"b": 1, "a": 2}) == '{"a":2,"b":1}'


@pytest.mark.parametrize("path", ["{.a[?(@.b==" + "9" * 5000 + ")]}", "{.a[" + "9" * 5000 + "]}"], ids=["filter", "index"])
def test_a_number_too_long_is_said_plainly(path):
    with pytest.raises(jsonpath.JsonPathError, match="has 5000 digits; give at most 18") as caught:
        jsonpath.parse(path)
    assert "sys." not in str(caught.value) and len(str(caught.value)) < 200


def test_quoted_filter_text_is_taken_as_written():
    assert jsonpath.parse(r'{.a[?(@.b=="\x")]}')[-1] == ("filter", (["b"], "==", "\\x"))
    assert jsonpath.find({"a": [{"b": "\\x"}, {"b": "y"}]}, r'{.a[?(@.b=="\x")]}') == [{"b": "\\x"}]
