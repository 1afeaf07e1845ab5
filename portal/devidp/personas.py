"""The people one can sign in as; the portal's demo data refers to exactly these identifiers."""

from dataclasses import dataclass

ATTRIBUTE_NAMES = (
    "uid",
    "givenName",
    "sn",
    "mail",
    "nationalId",
    "orgRegNumber",
    "orgName",
    "groups",
)


@dataclass(frozen=True)
class Persona:
    id: str
    given_name: str
    surname: str
    mail: str
    role: str
    national_id: str | None = None
    org_reg_number: str | None = None
    org_name: str | None = None
    groups: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.surname}"

    def attributes(self) -> dict[str, list[str]]:
        """The SAML attributes released for this persona, leaving out the ones it does not have."""
        values = {
            "uid": [self.id],
            "givenName": [self.given_name],
            "sn": [self.surname],
            "mail": [self.mail],
            "nationalId": [self.national_id] if self.national_id else [],
            "orgRegNumber": [self.org_reg_number] if self.org_reg_number else [],
            "orgName": [self.org_name] if self.org_name else [],
            "groups": list(self.groups),
        }
        return {name: value for name, value in values.items() if value}


PERSONAS = [
    Persona(
        "citizen-ana",
        "Ana",
        "Novak",
        "ana.novak@example.org",
        "Citizen",
        national_id="19800101-1234",
    ),
    Persona(
        "citizen-ben",
        "Ben",
        "Kovač",
        "ben.kovac@example.org",
        "Citizen",
        national_id="19750505-5678",
    ),
    Persona(
        "citizen-chloe",
        "Chloe",
        "Horvat",
        "chloe.horvat@example.org",
        "Citizen",
        national_id="19900909-9012",
    ),
    Persona(
        "rep-olga",
        "Olga",
        "Marin",
        "olga.marin@example.org",
        "Business representative",
        national_id="19820202-2222",
        org_reg_number="NW-100200",
        org_name="Northwind Supplies Ltd",
    ),
    Persona(
        "rep-peter",
        "Peter",
        "Vidmar",
        "peter.vidmar@example.org",
        "Business representative",
        national_id="19830303-3333",
        org_reg_number="SG-300400",
        org_name="Southgate Builders Ltd",
    ),
    Persona(
        "clerk-clara",
        "Clara",
        "Zupan",
        "clara.zupan@example.org",
        "Clerk",
        groups=("clerk:revenue",),
    ),
    # Revenue's second clerk: approves what Clara asks above the four-eyes threshold
    Persona(
        "clerk-eva",
        "Eva",
        "Bizjak",
        "eva.bizjak@example.org",
        "Clerk",
        groups=("clerk:revenue",),
    ),
    Persona(
        "clerk-dan", "Dan", "Kralj", "dan.kralj@example.org", "Clerk", groups=("clerk:registry",)
    ),
    Persona(
        "clerk-mia",
        "Mia",
        "Kos",
        "mia.kos@example.org",
        "Clerk",
        groups=("clerk:procurement",),
    ),
    Persona(
        "buyer-bruno",
        "Bruno",
        "Bregar",
        "bruno.bregar@example.org",
        "Buyer",
        groups=("buyer:procurement",),
    ),
    Persona(
        "rep-quinn",
        "Quinn",
        "Hribar",
        "quinn.hribar@example.org",
        "Business representative",
        national_id="19840404-4444",
        org_reg_number="EB-500600",
        org_name="Eastbridge Works Ltd",
    ),
    Persona(
        "reviewer-rita",
        "Rita",
        "Golob",
        "rita.golob@example.org",
        "Complaints reviewer",
        groups=("reviewer",),
    ),
    Persona(
        "admin-ada",
        "Ada",
        "Lovrec",
        "ada.lovrec@example.org",
        "Administrator",
        groups=("admin", "clerk:revenue"),
    ),
]

PERSONAS_BY_ID = {persona.id: persona for persona in PERSONAS}
