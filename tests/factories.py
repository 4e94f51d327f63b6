"""Factories. The named people of the suite:

- Alice: agent in Support, the default group of the Acme site.
- Bob: agent in Support too (a second agent for load balancing and two-agent cases).
- Charlie: agent in Sales only, with no access to Acme's conversations.
- Dave: a logged-in user with no agent profile.
"""

from __future__ import annotations

import uuid

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from helpdesk.models import Agent, AgentGroup, Conversation, Message, Site, Visitor


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-1")


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentGroup
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Group {n}")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    display_name = factory.LazyAttribute(lambda a: a.user.username.title())

    @factory.post_generation
    def member_of(self, create: bool, groups: list[AgentGroup] | None, **kwargs: object) -> None:
        if create and groups:
            self.groups.set(groups)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Site {n}")
    default_group = factory.SubFactory(GroupFactory)


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    site = factory.SubFactory(SiteFactory)


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    visitor = factory.SubFactory(VisitorFactory)
    site = factory.SelfAttribute("visitor.site")
    # As routing classifies a new conversation with no rules: the site's default group.
    group = factory.SelfAttribute("site.default_group")
    queued_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    seq = factory.Sequence(lambda n: n + 1)
    sender = Message.Sender.VISITOR
    body = factory.Sequence(lambda n: f"message {n}")
    client_id = factory.LazyFunction(uuid.uuid4)
