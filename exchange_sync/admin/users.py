from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from exchange_sync.models import M365Identity

User = get_user_model()


class M365IdentityInline(admin.StackedInline):
    model = M365Identity
    can_delete = True
    max_num = 1
    extra = 1
    verbose_name = "Microsoft 365 Authentication"
    verbose_name_plural = "Microsoft 365 Authentication"


admin.site.unregister(User)


@admin.register(User)
class BcUserAdmin(UserAdmin):
    inlines = [M365IdentityInline]
    list_display = ["username", "email", "m365_email", "first_name", "last_name", "is_staff"]
    list_select_related = ["m365_identity"]

    @admin.display(description="Microsoft 365 email", ordering="m365_identity__authentication_email")
    def m365_email(self, obj) -> str:
        identity = getattr(obj, "m365_identity", None)
        return identity.authentication_email if identity else ""
