from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from routing import presence
from tests.factories import AgentFactory, GroupFactory, SiteFactory, UserFactory


@pytest.fixture(autouse=True)
def _clean_presence() -> Any:
    presence.store().clear()
    yield
    presence.store().clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Any:
    """Each test starts with no rate-limit counts (this run's keys only: Redis is shared)."""
    from django.conf import settings
    from django.core.cache import cache

    def clear() -> None:
        if "redis" in settings.CACHES["default"]["BACKEND"].lower():
            client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
            prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
            for key in client.scan_iter(f"{prefix}:*:rl:*"):
                client.delete(key)
        else:
            cache.clear()

    clear()
    yield
    clear()


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left_at_the_end(django_db_setup: None, django_db_blocker: Any) -> Any:
    """Before the test database is dropped (this ends before ``django_db_setup`` tears
    down): the hot path's connections a test's last tasks opened after its own teardown, and
    any a worker thread of an async test kept, are closed, so the drop cannot fail and leave
    the database behind."""
    from helpdesk import pgpool

    yield
    pgpool.close_all()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _hot_path_connections() -> Any:
    """The hot path's connections belong to a test's event loop, which ends with the test:
    closed here, or the test database could not be dropped at the end."""
    from helpdesk import pgpool

    yield
    pgpool.close_all()


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    """Each test starts in the default language. A page requested by the test client in the
    test's own thread activates its language there (as Django does per request), and async
    tests copy that thread's context, so a Chinese page would leave later tests Chinese."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _on_postgres(request: pytest.FixtureRequest) -> None:
    """The suite runs on PostgreSQL; only the embedded smoke test uses SQLite (in its own process)."""
    if "django_db_setup" in request.fixturenames:
        assert connection.vendor == "postgresql", "run the suite with `make test`"


@pytest.fixture
def support(db: None) -> Any:
    return GroupFactory(name="Support", default_capacity=100)


@pytest.fixture
def sales(db: None) -> Any:
    return GroupFactory(name="Sales", default_capacity=100)


@pytest.fixture
def acme(support: Any) -> Any:
    return SiteFactory(name="Acme", default_group=support)


@pytest.fixture
def alice(support: Any) -> Any:
    return AgentFactory(
        user=UserFactory(username="alice"), display_name="Alice", member_of=[support]
    )


@pytest.fixture
def bob(support: Any) -> Any:
    return AgentFactory(user=UserFactory(username="bob"), display_name="Bob", member_of=[support])


@pytest.fixture
def charlie(sales: Any) -> Any:
    return AgentFactory(
        user=UserFactory(username="charlie"), display_name="Charlie", member_of=[sales]
    )


@pytest.fixture
def dave(db: None) -> Any:
    return UserFactory(username="dave")


@pytest.fixture
def app_server(tmp_path: Any, transactional_db: None) -> Any:
    """A real uvicorn process on the test database (tasks run in it), stopped afterwards."""
    from tests.processes import Server, database_url_for, server_env

    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="true",
        DB_CONN_MAX_AGE="0",
    )
    server = Server(env, tmp_path / "server.log").start()
    yield server
    server.stop()
