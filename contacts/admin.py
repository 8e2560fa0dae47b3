from django.contrib import admin

from contacts.models import Contact


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "no",
        "name",
        "type",
        "company_name",
        "email",
        "phone",
        "city",
        "salesperson_code",
        "modified_at",
    ]
    list_display_links = ["no", "name"]
    search_fields = ["no", "name", "email", "company_name", "city"]
    list_filter = ["type", "company_name", "city", "salesperson_code", "privacy_blocked"]
    readonly_fields = ["no", "created_at", "modified_at"]
    autocomplete_fields = ["company"]
    list_per_page = 50
    show_full_result_count = False
    fieldsets = [
        (
            "General",
            {
                "fields": [
                    "no",
                    "type",
                    "name",
                    ("first_name", "middle_name", "surname"),
                    "initials",
                    "job_title",
                    "company",
                    "company_name",
                    "salesperson_code",
                    "privacy_blocked",
                    ("created_at", "modified_at"),
                ]
            },
        ),
        ("Communication", {"fields": ["email", "email_2", "phone", "mobile_phone", "home_page"]}),
        ("Address", {"fields": ["address", "address_2", ("post_code", "city"), "county", "country_region_code"]}),
    ]

    def changelist_view(self, request, extra_context=None):
        # Business Central calls this page "Contacts", not "Select contact to change".
        return super().changelist_view(request, {"title": "Contacts", **(extra_context or {})})

    def get_search_results(self, request, queryset, search_term):
        # The company autocomplete on the card only offers Company contacts.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if request.path.endswith("/autocomplete/"):
            queryset = queryset.filter(type=Contact.Type.COMPANY)
        return queryset, may_have_duplicates
