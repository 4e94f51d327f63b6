"""The back office's look (django-admin-interface's Theme row), set once here: its own
settings page is not offered (helpdesk/admin.py)."""

from django.db import migrations

LOOK = {
    "title": "Helpdesk back office",
    "title_color": "#ffffff",
    "title_visible": True,
    "logo_visible": False,
    "env_visible_in_header": False,
    "env_visible_in_favicon": False,
    "language_chooser_active": False,
    "css_header_background_color": "#0f172a",
    "css_header_text_color": "#cbd5e1",
    "css_header_link_color": "#ffffff",
    "css_header_link_hover_color": "#93c5fd",
    "css_module_background_color": "#1e40af",
    "css_module_background_selected_color": "#eff6ff",
    "css_module_text_color": "#ffffff",
    "css_module_link_color": "#ffffff",
    "css_module_link_selected_color": "#ffffff",
    "css_module_link_hover_color": "#bfdbfe",
    "css_module_rounded_corners": True,
    "css_generic_link_color": "#1d4ed8",
    "css_generic_link_hover_color": "#1e40af",
    "css_generic_link_active_color": "#1e3a8a",
    "css_save_button_background_color": "#2563eb",
    "css_save_button_background_hover_color": "#1d4ed8",
    "css_save_button_text_color": "#ffffff",
    "css_delete_button_background_color": "#dc2626",
    "css_delete_button_background_hover_color": "#b91c1c",
    "css_delete_button_text_color": "#ffffff",
    # Related objects open in Django's own pop-up windows: its modal uses frames, which our
    # X-Frame-Options (DENY) and frame-ancestors 'none' refuse.
    "related_modal_active": False,
    "list_filter_highlight": True,
    "list_filter_dropdown": True,
    "list_filter_sticky": True,
    "list_filter_removal_links": True,
    "foldable_apps": True,
    "collapsible_stacked_inlines": False,
    "collapsible_tabular_inlines": False,
    "recent_actions_visible": True,
    "form_submit_sticky": True,
    "form_pagination_sticky": True,
}


def set_look(apps, schema_editor):
    Theme = apps.get_model("admin_interface", "Theme")
    Theme.objects.update(active=False)
    Theme.objects.update_or_create(name="Helpdesk", defaults={**LOOK, "active": True})


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0014_supervision"),
        ("admin_interface", "0032_alter_theme_defaults"),
    ]

    operations = [migrations.RunPython(set_look, migrations.RunPython.noop)]
