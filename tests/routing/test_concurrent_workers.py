"""Eight agents come online at once; two real Celery worker processes (prefork) run their
flushes concurrently against PostgreSQL. Every waiting conversation goes to exactly one
agent and nobody goes above capacity.

Capacity is chosen so the team's room equals the backlog exactly (8 x 25 = 200): a
conversation claimed twice, or a claim lost, would leave one waiting or an agent short.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection

from helpdesk.models import Conversation
from offline.tasks import flush_agent
from routing import presence, selectors
from tests.factories import AgentFactory, ConversationFactory, UserFactory, VisitorFactory
from tests.processes import celery_worker, database_url_for, server_env

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers(tmp_path, settings):
    from helpdesk.celery import app

    queue = f"concurrency-{uuid.uuid4().hex}"
    env = server_env(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        CELERY_TASK_ALWAYS_EAGER="false",
        DB_CONN_MAX_AGE="0",
    )
    procs = [
        celery_worker(
            env,
            tmp_path / f"worker{i}.log",
            *("-Q", queue, "--concurrency=4", f"--hostname=w{i}-{queue}@%h", "--loglevel=WARNING"),
        )
        for i in range(2)
    ]
    old = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        app.conf.task_always_eager = old
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)


def test_simultaneous_logins_on_real_workers_assign_each_conversation_once(acme, support, workers):
    team = [
        AgentFactory(
            user=UserFactory(username=f"agent{i}", password=None), member_of=[support], capacity=25
        )
        for i in range(8)
    ]
    for _ in range(200):
        ConversationFactory(visitor=VisitorFactory(site=acme))
    for agent in team:
        presence.store().connect("agent", str(agent.id), f"sock-{agent.id}")
    for agent in team:  # all eight at once, spread over two worker processes
        flush_agent.apply_async(args=[agent.id], queue=workers)

    deadline = time.monotonic() + 60
    while Conversation.objects.filter(assigned_agent__isnull=True).exists():
        assert time.monotonic() < deadline, "the workers did not assign the backlog in time"
        time.sleep(0.05)  # waiting for the workers' commits, bounded by the deadline

    loads = selectors.open_loads(a.id for a in team)
    assert loads == {a.id: 25 for a in team}
