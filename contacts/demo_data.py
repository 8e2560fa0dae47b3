"""Deterministic demo contacts: companies with their people, in Business Central's style.

The same seed gives the same contacts on every machine, so screenshots and demos match.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction

from contacts.models import Contact

FIRST_NAMES = [
    "Alicia",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiroshi",
    "Ines",
    "Jonas",
    "Katarzyna",
    "Liam",
    "Maria",
    "Noah",
    "Olivia",
    "Pedro",
    "Quinn",
    "Rosa",
    "Samir",
    "Tanja",
    "Umar",
    "Vera",
    "William",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Annette",
    "Bjorn",
    "Chloe",
    "Dmitri",
    "Emma",
    "Frederik",
    "Giulia",
    "Hannah",
    "Ivan",
    "Julia",
    "Kevin",
    "Laura",
    "Mads",
    "Nina",
]
MIDDLE_NAMES = ["", "", "", "", "J.", "M.", "Anne", "Lee", "", ""]
SURNAMES = [
    "Andersen",
    "Baker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nielsen",
    "O'Brien",
    "Petrov",
    "Quist",
    "Rossi",
    "Schmidt",
    "Thompson",
    "Ueda",
    "Vasquez",
    "Weber",
    "Young",
    "Zimmermann",
    "Brandt",
    "Carter",
    "Dahl",
    "Evans",
    "Foster",
    "Gruber",
    "Holm",
]
JOB_TITLES = [
    "Purchasing Manager",
    "Sales Manager",
    "CEO",
    "Accountant",
    "Office Manager",
    "IT Manager",
    "Buyer",
    "Marketing Lead",
    "Production Manager",
    "Controller",
]
STREETS = ["Main Street", "High Road", "Harbour Way", "Park Avenue"]
SALESPERSONS = ["JO", "PS", "OF", "MH", "BC"]


@dataclass(frozen=True)
class Place:
    city: str
    post_code: str
    county: str
    country: str


PLACES = [
    Place("London", "EC1V 4PW", "Greater London", "GB"),
    Place("Manchester", "M1 1AE", "Greater Manchester", "GB"),
    Place("Birmingham", "B1 1BB", "West Midlands", "GB"),
    Place("Chicago", "60601", "IL", "US"),
    Place("Atlanta", "30303", "GA", "US"),
    Place("Seattle", "98101", "WA", "US"),
    Place("Copenhagen", "1050", "", "DK"),
    Place("Aarhus", "8000", "", "DK"),
    Place("Amsterdam", "1012 AB", "", "NL"),
    Place("Munich", "80331", "Bavaria", "DE"),
    Place("Lyon", "69001", "", "FR"),
    Place("Toronto", "M5H 2N2", "ON", "CA"),
]
COMPANY_NAMES = [
    "Adatum Corporation",
    "Alpine Ski House",
    "Blue Yonder Airlines",
    "City Power & Light",
    "Coho Winery",
    "Contoso Pharmaceuticals",
    "Fabrikam Inc.",
    "Fourth Coffee",
    "Graphic Design Institute",
    "Humongous Insurance",
    "Litware, Inc.",
    "Lucerne Publishing",
    "Margie's Travel",
    "Northwind Traders",
    "Proseware, Inc.",
    "School of Fine Art",
    "Southridge Video",
    "Tailspin Toys",
    "Trey Research",
    "Wide World Importers",
    "Wingtip Toys",
    "Woodgrove Bank",
    "The Phone Company",
    "Relecloud",
]


def _domain(company: str) -> str:
    letters = "".join(ch for ch in company.lower() if ch.isalnum())
    return f"{letters[:18]}.example"


def demo_contacts_load(*, people_per_company: int = 10, seed: int = 6700) -> tuple[int, int]:
    """Create the demo companies and their people; return (companies, people) created.

    Does nothing when contacts already exist, so running it twice never duplicates.
    About one person in twelve has no email and one in twenty is privacy blocked, so the
    sync's exclusions can be seen.
    """
    if Contact.objects.exists():
        return 0, 0
    rng = random.Random(seed)
    companies = people = 0
    with transaction.atomic():
        for company_name in COMPANY_NAMES:
            place = rng.choice(PLACES)
            salesperson = rng.choice(SALESPERSONS)
            domain = _domain(company_name)
            company = Contact.objects.create(
                type=Contact.Type.COMPANY,
                name=company_name,
                email=f"info@{domain}",
                phone=f"+{rng.randint(1, 49)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                home_page=f"https://www.{domain}",
                address=f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
                city=place.city,
                post_code=place.post_code,
                county=place.county,
                country_region_code=place.country,
                salesperson_code=salesperson,
            )
            companies += 1
            for index in range(people_per_company):
                first, surname = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
                local = f"{first}.{surname}".lower().replace("'", "")
                has_email = rng.random() > 0.08
                Contact.objects.create(
                    type=Contact.Type.PERSON,
                    first_name=first,
                    middle_name=rng.choice(MIDDLE_NAMES),
                    surname=surname,
                    job_title=rng.choice(JOB_TITLES),
                    company=company,
                    email=f"{local}{index}@{domain}" if has_email else "",
                    phone=company.phone,
                    mobile_phone=f"+{rng.randint(1, 49)} {rng.randint(100, 999)} {rng.randint(100000, 999999)}",
                    address=company.address,
                    city=place.city,
                    post_code=place.post_code,
                    county=place.county,
                    country_region_code=place.country,
                    salesperson_code=salesperson,
                    privacy_blocked=rng.random() < 0.05,
                )
                people += 1
    return companies, people
