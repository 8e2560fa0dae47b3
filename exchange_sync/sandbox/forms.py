"""The contact form of the Outlook (sandbox) page: the fields a person edits in Outlook."""

from __future__ import annotations

from django import forms

from .models import Contact


class ContactForm(forms.Form):
    given_name = forms.CharField(label="First name", required=False)
    surname = forms.CharField(label="Last name", required=False)
    display_name = forms.CharField(label="Display name", required=False, help_text="Empty: first and last name.")
    email = forms.EmailField(label="E-mail", required=False)
    business_phone = forms.CharField(label="Business phone", required=False)
    mobile_phone = forms.CharField(label="Mobile phone", required=False)
    company_name = forms.CharField(label="Company", required=False)
    job_title = forms.CharField(label="Job title", required=False)

    @classmethod
    def for_contact(cls, contact: Contact) -> ContactForm:
        data = contact.data
        emails = data.get("emailAddresses") or [{}]
        phones = data.get("businessPhones") or [""]
        return cls(
            initial={
                "given_name": data.get("givenName") or "",
                "surname": data.get("surname") or "",
                "display_name": data.get("displayName") or "",
                "email": emails[0].get("address", ""),
                "business_phone": phones[0],
                "mobile_phone": data.get("mobilePhone") or "",
                "company_name": data.get("companyName") or "",
                "job_title": data.get("jobTitle") or "",
            }
        )

    def graph_properties(self, existing: dict | None = None) -> dict:
        """The Graph properties the form sets; other e-mails and phones of the contact are kept."""
        existing = existing or {}
        cd = self.cleaned_data
        emails = list(existing.get("emailAddresses") or [])
        phones = list(existing.get("businessPhones") or [])
        if cd["email"]:
            emails[:1] = [{"address": cd["email"], "name": cd["display_name"] or cd["email"]}]
        else:
            emails = emails[1:]
        phones[:1] = [cd["business_phone"]] if cd["business_phone"] else []
        return {
            "givenName": cd["given_name"] or None,
            "surname": cd["surname"] or None,
            "displayName": cd["display_name"] or " ".join(p for p in (cd["given_name"], cd["surname"]) if p),
            "emailAddresses": emails,
            "businessPhones": phones,
            "mobilePhone": cd["mobile_phone"] or None,
            "companyName": cd["company_name"] or None,
            "jobTitle": cd["job_title"] or None,
        }
