"""The permission table covers every RPC the four services serve, and names only known
permissions; the roles' default scopes and the services' own are known permissions too."""

from __future__ import annotations

from google.protobuf import descriptor_pool

from lianxin.intake.v1 import intake_service_pb2  # noqa: F401 - registers the descriptors
from lianxin.notify.v1 import notify_service_pb2  # noqa: F401
from lianxin.registry.v1 import registry_service_pb2  # noqa: F401
from lianxin.routing.v1 import routing_service_pb2  # noqa: F401
from services.common import auth
from services.common.authz import RULES, Scope, rule_for

SERVICES = (
    "lianxin.intake.v1.IntakeService",
    "lianxin.notify.v1.NotifyService",
    "lianxin.registry.v1.RegistryService",
    "lianxin.routing.v1.RoutingService",
)


def _methods() -> set[str]:
    pool = descriptor_pool.Default()
    return {f"{name}/{m.name}" for name in SERVICES for m in pool.FindServiceByName(name).methods}


def test_every_rpc_is_declared_once_and_nothing_else_is() -> None:
    assert set(RULES) == _methods()
    assert rule_for("/lianxin.intake.v1.IntakeService/NoSuchMethod") is None


def test_the_table_and_the_scopes_name_known_permissions_only() -> None:
    known = set(auth.ALL_PERMISSIONS)
    assert {r.permission for r in RULES.values()} <= known
    for role, scopes in {**auth.ROLE_SCOPES, **auth.SERVICE_SCOPES}.items():
        assert set(scopes) <= known, role
    assert auth.PII_READ not in auth.ROLE_SCOPES["admin"]  # granted to a person explicitly
    for method, rule in RULES.items():
        if rule.scope in (Scope.UNIT, Scope.CHANNEL) and rule.field:
            name = method.rpartition("/")[2]
            request = descriptor_pool.Default().FindMessageTypeByName(
                method.split("/")[0].rsplit(".", 1)[0] + f".{name}Request"
            )
            for field in rule.field.split(","):
                assert field in request.fields_by_name, (method, field)
