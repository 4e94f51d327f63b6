from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from helpdesk import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<uuid:conversation_id>/", views.inbox, name="inbox-conversation"),
    path("widget/", views.widget, name="widget"),
    path("demo/", views.demo, name="demo"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # django-anymail's provider webhooks: /email/<provider>/inbound/ and …/tracking/
    path("email/", include("anymail.urls")),
    path("api/v1/visitor/session", api.VisitorSessionView.as_view()),
    path("api/v1/visitor/messages", api.VisitorMessagesView.as_view()),
    path("api/v1/visitor/email", api.VisitorEmailView.as_view()),
    path("v/verify/<str:token>/", views.verify_email, name="verify-email"),
    path("r/<str:token>/", views.resume, name="resume"),
    path("api/v1/agent/conversations", api.AgentConversationsView.as_view()),
    path(
        "api/v1/agent/conversations/<str:conversation_id>/messages", api.AgentMessagesView.as_view()
    ),
]
