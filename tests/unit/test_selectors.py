"""Label selectors are read as Kubernetes reads them, and refused at their field when it would not."""

import pytest

from labrunner.format.selectors import SelectorError, parse_selector
from labrunner.format.values import host_problem, url_problem


@pytest.mark.parametrize(("text", "expected"), [
    ("app=web", [("app", "=", ("web",))]),
    ("app==web, tier!=db", [("app", "=", ("web",)), ("tier", "!=", ("db",))]),
    ("env in (a, b),!canary", [("env", "in", ("a", "b")), ("canary", "!", ())]),
    ("env notin (a)", [("env", "notin", ("a",))]),
    ("app.kubernetes.io/name=web,x", [("app.kubernetes.io/name", "=", ("web",)), ("x", "exists", ())]),
    ("replicas>2", [("replicas", ">", ("2",))]),
])
def test_a_selector_kubernetes_reads(text, expected):
    assert parse_selector(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("app in (", "expected a label value, got the end"),
    ("!!==,,", "expected a label key"),
    ("==,!", "expected a label key, got '=='"),
    ("app=web,", "expected a label key, got the end"),
    ("a b", "after 'a', got 'b'"),
    ("app=we b", "expected ',' between requirements"),
    ("app in a,b", "expected '(' after in"),
    ("x>two", "expected a whole number after >"),
    ("app=-web-", "is not a valid label value"),
    ("-app=web", "is not a valid label key"),
    ("   ", "an empty selector selects everything"),
])
def test_a_selector_kubernetes_refuses(text, expected):
    with pytest.raises(SelectorError, match=expected.replace("(", r"\(").replace("'", "'")):
        parse_selector(text)


@pytest.mark.parametrize("host", ["web", "web.lab-x.svc.cluster.local", "example.com.", "10.0.0.1", "::1",
                                  "web.${LAB_NAMESPACE}.svc"])
def test_a_host_is_a_dns_name_or_an_address(host):
    assert host_problem(host) is None


@pytest.mark.parametrize("host", ["a b", "web\n", "-web", "a..b", "", "x" * 64, "http://web"])
def test_a_host_that_is_none(host):
    assert "expected a host name" in host_problem(host)


@pytest.mark.parametrize(("url", "expected"), [
    ("http://x\nHost: evil", "no spaces, line breaks"),
    ("http:// ", "no spaces"),
    ("http://", "expected a URL with a host"),
    ("https:///path", "expected a URL with a host"),
    ("http://a b/", "no spaces"),
    ("http://web:99999/", "not a URL"),
    ("ftp://web/", "expected an http:// or https:// URL"),
    ("http://we_b/", "expected a host name"),
])
def test_a_url_that_is_none(url, expected):
    assert expected in url_problem(url)


@pytest.mark.parametrize("url", ["http://web/", "https://example.com:8443/a?b=c#d", "http://10.0.0.1:80", "http://[::1]:8080/"])
def test_a_url_with_a_host(url):
    assert url_problem(url) is None
