"""The back office: rule preview before saving, transfer action, list pages' query counts."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from helpdesk.models import Conversation
from routing.models import RoutingRule, Skill
from tests.factories import ConversationFactory, VisitorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    user = get_user_model().objects.create_superuser("mia", "mia@example.com", "pw-for-tests-1")
    client.force_login(user)
    return user


def rule_form(acme, sales, **extra):
    data = {
        "name": "Refunds",
        "order": "10",
        "active": "on",
        "site": "",
        "channel": "",
        "language": "",
        "url_contains": "",
        "keywords": "refund",
        "attributes": "{}",
        "group": str(sales.pk),
        "priority": "3",
        "example_site": str(acme.pk),
        "example_channel": "web",
        "example_language": "en",
        "example_page_url": "",
        "example_attributes": "{}",
        "example_message": "I want a refund",
    }
    data.update(extra)
    return data


def test_a_rule_preview_shows_the_outcome_and_saves_nothing(client, manager, acme, sales):
    response = client.post(
        "/admin/routing/routingrule/add/", rule_form(acme, sales, preview_only="on"), follow=True
    )
    text = response.content.decode()
    assert "This rule matches the example" in text
    assert "would go to Sales with urgent priority" in text
    assert "nothing was saved" in text
    assert not RoutingRule.objects.exists()
    response = client.post(
        "/admin/routing/routingrule/add/",
        rule_form(acme, sales, example_message="hello", preview_only="on"),
        follow=True,
    )
    assert (
        "does not match" in response.content.decode()
        and "would go to Support" in response.content.decode()
    )
    client.post("/admin/routing/routingrule/add/", rule_form(acme, sales))
    assert RoutingRule.objects.get().keywords == "refund"


def test_the_transfer_action_moves_conversations_with_a_line(client, manager, acme, sales, bob):
    convs = [ConversationFactory(visitor=VisitorFactory(site=acme)) for _ in range(2)]
    response = client.post(
        "/admin/helpdesk/conversation/",
        {
            "action": "transfer",
            "_selected_action": [str(c.pk) for c in convs],
            "to_agent": str(bob.pk),
            "reason": "VIP",
        },
        follow=True,
    )
    assert "Transferred 2 conversation(s)" in response.content.decode()
    assert set(Conversation.objects.values_list("assigned_agent", flat=True)) == {bob.pk}
    response = client.post(
        "/admin/helpdesk/conversation/",
        {"action": "transfer", "_selected_action": [str(convs[0].pk)], "reason": "nowhere"},
        follow=True,
    )
    assert "Choose an agent or a group" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    ["/admin/helpdesk/conversation/", "/admin/helpdesk/agent/", "/admin/routing/routingrule/"],
)
def test_list_pages_cost_the_same_queries_for_many_rows(
    client, manager, acme, sales, alice, url, django_assert_max_num_queries
):
    skill = Skill.objects.create(name="vip")
    for i in range(30):
        ConversationFactory(visitor=VisitorFactory(site=acme), assigned_agent=alice)
        rule = RoutingRule.objects.create(name=f"r{i}", group=sales, site=acme)
        rule.required_skills.add(skill)
    with django_assert_max_num_queries(20):
        assert client.get(url).status_code == 200
