"""Django admin with our admin site: its index is the managers' dashboard
(``helpdesk.admin_site``). In a module of its own: an apps module with two AppConfig
classes would leave Django unsure which one ``helpdesk`` means."""

from django.contrib.admin.apps import AdminConfig


class HelpdeskAdminConfig(AdminConfig):
    default_site = "helpdesk.admin_site.HelpdeskAdminSite"
