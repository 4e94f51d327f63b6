from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from helpdesk import api, monitoring, satisfaction_views, supervision, views
from helpdesk.admin_reports import reports_view
from helpdesk.admin_shifts import shifts_view
from helpdesk.auth import LockoutAuthenticationForm
from notifications import views as notification_views

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<uuid:conversation_id>/", views.inbox, name="inbox-conversation"),
    path("supervision/", supervision.supervision_page, name="supervision"),
    path("widget/", views.widget, name="widget"),
    path("demo/", views.demo, name="demo"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", monitoring.metrics_view, name="metrics"),
    path("jsi18n/<str:language>/", views.js_catalog, name="js-catalog"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("offline/", views.offline, name="offline"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LockoutAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/reports/", admin.site.admin_view(reports_view), name="admin-reports"),
    path("admin/shifts/", admin.site.admin_view(shifts_view), name="admin-shifts"),
    path("admin/", admin.site.urls),
    # django-anymail's provider webhooks: /email/<provider>/inbound/ and …/tracking/, each
    # refused with 400 unless authenticated (views.signed_webhook).
    path("email/", include(views.signed_webhooks())),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/visitor/session", api.VisitorSessionView.as_view()),
    path("api/v1/visitor/messages", api.VisitorMessagesView.as_view()),
    path("api/v1/visitor/email", api.VisitorEmailView.as_view()),
    path("api/v1/visitor/receipts", api.VisitorReceiptsView.as_view()),
    path("api/v1/visitor/resume", api.ResumeRequestView.as_view()),
    path("api/v1/visitor/resume/confirm", api.ResumeConfirmView.as_view()),
    path("api/v1/visitor/rating", satisfaction_views.VisitorRatingView.as_view()),
    path("rate/<str:token>/", satisfaction_views.rate_page, name="rate"),
    path("v/verify/<str:token>/", views.verify_email, name="verify-email"),
    path("r/", views.resume, name="resume-link"),
    path("r/<str:token>/", views.resume, name="resume"),
    path("api/v1/visitor/attachments", api.VisitorAttachmentsView.as_view()),
    path(
        "api/v1/agent/conversations/<str:conversation_id>/attachments",
        api.AgentAttachmentsView.as_view(),
    ),
    path("files/<str:token>/", views.attachment_file, name="attachment-file"),
    path("api/v1/agent/conversations/<str:conversation_id>/notes", api.AgentNotesView.as_view()),
    path("api/v1/agent/search", api.AgentSearchView.as_view()),
    path("api/v1/agent/conversations", api.AgentConversationsView.as_view()),
    path(
        "api/v1/agent/conversations/<str:conversation_id>/messages", api.AgentMessagesView.as_view()
    ),
    # Web Push: a service worker per scope, the pages that turn it on, the subscriptions.
    path("sw.js", notification_views.service_worker, name="staff-sw"),
    path("widget/sw.js", notification_views.service_worker, name="widget-sw"),
    path("widget/push/", notification_views.widget_push_page, name="widget-push"),
    path("notifications/", notification_views.settings_page, name="notification-settings"),
    path("api/v1/push/subscriptions", notification_views.StaffSubscriptionsView.as_view()),
    path("api/v1/visitor/push", notification_views.VisitorSubscriptionsView.as_view()),
    # App push and WeChat mini-programs: phones, the WeChat user, subscribe consents.
    path("api/v1/visitor/devices", api.VisitorDevicesView.as_view()),
    path("api/v1/visitor/wechat/login", api.VisitorWechatLoginView.as_view()),
    path("api/v1/visitor/wechat/consents", api.VisitorWechatConsentsView.as_view()),
]
