"""The examples run against a real server, as a developer would run them."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from helpdesk import services
from helpdesk.models import Conversation, Message
from tests.processes import ROOT

pytestmark = pytest.mark.processes


def chat(server, site, tmp_path, text: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "chat_cli.py"), server.base, site.widget_key],
        input=text,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_the_chat_cli_sends_and_shows_only_what_it_missed(acme, alice, app_server, tmp_path):
    first = chat(app_server, acme, tmp_path, "Hello from the command line\n")
    assert "Connected to Acme" in first and "you: Hello from the command line" in first
    conv = Conversation.objects.get()
    assert conv.channel == "app"
    assert [m.body for m in conv.messages.filter(sender="visitor")] == [
        "Hello from the command line"
    ]
    services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="Hi! Alice here."
    )
    second = chat(app_server, acme, tmp_path, "")  # the same visitor, from its saved token
    assert "Alice: Hi! Alice here." in second
    assert "Hello from the command line" not in second  # already shown last time
    assert Message.objects.filter(sender="visitor").count() == 1
