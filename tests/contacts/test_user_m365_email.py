import pytest
from django.urls import reverse

from exchange_sync.models import M365Identity
from tests.factories import make_user


def _user_form(user, email: str, identity_id: str = "") -> dict:
    return {
        "username": user.username,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "m365_identity-TOTAL_FORMS": "1",
        "m365_identity-INITIAL_FORMS": "1" if identity_id else "0",
        "m365_identity-MIN_NUM_FORMS": "0",
        "m365_identity-MAX_NUM_FORMS": "1",
        "m365_identity-0-id": identity_id,
        "m365_identity-0-user": str(user.pk),
        "m365_identity-0-authentication_email": email,
    }


@pytest.mark.django_db
def test_the_user_page_has_a_microsoft_365_authentication_section(client, superuser):
    client.force_login(superuser)
    html = client.get(reverse("admin:auth_user_change", args=[superuser.pk])).content.decode()
    assert "Microsoft 365 Authentication" in html
    assert "boss@cronus.example" in html


@pytest.mark.django_db
def test_it_saves_a_users_microsoft_365_email(client, superuser):
    client.force_login(superuser)
    user = make_user("sales")
    response = client.post(reverse("admin:auth_user_change", args=[user.pk]), _user_form(user, "Sales@Cronus.example"))
    assert response.status_code == 302
    assert M365Identity.objects.get(user=user).authentication_email == "sales@cronus.example"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "Enter a valid email address."),
        ("boss@cronus.example", "already exists"),
        ("BOSS@Cronus.example", "already exists"),
    ],
)
def test_it_rejects_an_invalid_or_taken_microsoft_365_email(client, superuser, email, message):
    client.force_login(superuser)
    user = make_user("sales")
    response = client.post(reverse("admin:auth_user_change", args=[user.pk]), _user_form(user, email))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not M365Identity.objects.filter(user=user).exists()
