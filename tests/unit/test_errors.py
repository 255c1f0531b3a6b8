import json

from labrunner.errors import ApiRejected, ClusterUnreachable, Forbidden, NotFound, translate_api_exception


class FakeApiException(Exception):
    def __init__(self, status, body=None, reason=""):
        super().__init__(reason)
        self.status, self.body, self.reason = status, body, reason


def body(message, reason="Invalid"):
    return json.dumps({"kind": "Status", "message": message, "reason": reason})


def test_the_servers_own_message_is_kept():
    error = translate_api_exception(FakeApiException(422, body('Service "web" is invalid: spec.ports: Required value')),
                                    what="svc.yaml: Service/web")
    assert isinstance(error, ApiRejected) and not isinstance(error, NotFound)
    assert error.server_message == 'Service "web" is invalid: spec.ports: Required value'
    assert str(error).startswith("svc.yaml: Service/web: ")


def test_status_codes_map_to_types():
    assert isinstance(translate_api_exception(FakeApiException(404, body("not found", "NotFound"))), NotFound)
    assert isinstance(translate_api_exception(FakeApiException(403, body("forbidden", "Forbidden"))), Forbidden)
    assert isinstance(translate_api_exception(FakeApiException(0, reason="Connection refused")), ClusterUnreachable)
    assert isinstance(translate_api_exception(ConnectionRefusedError("refused")), ClusterUnreachable)
    assert isinstance(translate_api_exception(FakeApiException(503, "unavailable")), ClusterUnreachable)
