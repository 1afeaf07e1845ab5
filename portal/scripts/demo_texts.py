"""The demo's texts in the portal's other languages, as each department would write them: the
names of the departments and services, the fee labels and the bills' descriptions, by their
English text (the demo's default language). Every demo text has all four."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # departments
    "Revenue Office": {
        "sl": "Davčni urad",
        "pl": "Wydział Podatków i Opłat",
        "fr": "Service des recettes",
        "zh_Hans": "税务局",
    },
    "Civil Registry and Licensing": {
        "sl": "Matični urad in dovoljenja",
        "pl": "Urząd Stanu Cywilnego i Zezwoleń",
        "fr": "État civil et autorisations",
        "zh_Hans": "民事登记与许可办公室",
    },
    "Public Procurement Office": {
        "sl": "Urad za javna naročila",
        "pl": "Biuro Zamówień Publicznych",
        "fr": "Service des marchés publics",
        "zh_Hans": "公共采购办公室",
    },
    # services
    "Property tax": {
        "sl": "Davek na nepremičnine",
        "pl": "Podatek od nieruchomości",
        "fr": "Taxe foncière",
        "zh_Hans": "房产税",
    },
    "Water supply": {
        "sl": "Oskrba s pitno vodo",
        "pl": "Dostawa wody",
        "fr": "Distribution d’eau",
        "zh_Hans": "供水",
    },
    "Waste collection": {
        "sl": "Odvoz odpadkov",
        "pl": "Odbiór odpadów",
        "fr": "Collecte des déchets",
        "zh_Hans": "垃圾收集",
    },
    "Vehicle registration": {
        "sl": "Registracija vozila",
        "pl": "Rejestracja pojazdu",
        "fr": "Immatriculation d’un véhicule",
        "zh_Hans": "车辆登记",
    },
    "Business licence": {
        "sl": "Dovoljenje za opravljanje dejavnosti",
        "pl": "Zezwolenie na działalność gospodarczą",
        "fr": "Licence commerciale",
        "zh_Hans": "营业执照",
    },
    "Certified copy of a civil status record": {
        "sl": "Overjen izpisek iz matičnega registra",
        "pl": "Odpis aktu stanu cywilnego",
        "fr": "Copie certifiée d’un acte d’état civil",
        "zh_Hans": "民事登记记录核证副本",
    },
    # fee labels
    "Passenger car registration": {
        "sl": "Registracija osebnega avtomobila",
        "pl": "Rejestracja samochodu osobowego",
        "fr": "Immatriculation d’une voiture particulière",
        "zh_Hans": "乘用车登记",
    },
    "Motorcycle registration": {
        "sl": "Registracija motornega kolesa",
        "pl": "Rejestracja motocykla",
        "fr": "Immatriculation d’une moto",
        "zh_Hans": "摩托车登记",
    },
    "Trailer registration": {
        "sl": "Registracija priklopnega vozila",
        "pl": "Rejestracja przyczepy",
        "fr": "Immatriculation d’une remorque",
        "zh_Hans": "挂车登记",
    },
    "Truck registration": {
        "sl": "Registracija tovornega vozila",
        "pl": "Rejestracja samochodu ciężarowego",
        "fr": "Immatriculation d’un camion",
        "zh_Hans": "货车登记",
    },
    "Business licence, one year": {
        "sl": "Dovoljenje za opravljanje dejavnosti, eno leto",
        "pl": "Zezwolenie na działalność gospodarczą na jeden rok",
        "fr": "Licence commerciale, un an",
        "zh_Hans": "营业执照（一年）",
    },
    "Certified copy, each": {
        "sl": "Overjen izpisek, za izvod",
        "pl": "Odpis, za egzemplarz",
        "fr": "Copie certifiée, l’exemplaire",
        "zh_Hans": "核证副本（每份）",
    },
    "Complaint against a tender award": {
        "sl": "Zahtevek za revizijo odločitve o oddaji javnega naročila",
        "pl": "Odwołanie od wyboru oferty w zamówieniu publicznym",
        "fr": "Recours contre l’attribution d’un marché public",
        "zh_Hans": "对招标授标决定的投诉",
    },
    # bills and their lines
    "Water supply, October 2026": {
        "sl": "Oskrba s pitno vodo, oktober 2026",
        "pl": "Dostawa wody, październik 2026",
        "fr": "Distribution d’eau, octobre 2026",
        "zh_Hans": "供水，2026年10月",
    },
    "Water, 9 m³": {
        "sl": "Voda, 9 m³",
        "pl": "Woda, 9 m³",
        "fr": "Eau, 9 m³",
        "zh_Hans": "用水 9 立方米",
    },
    "Network fee": {
        "sl": "Omrežnina",
        "pl": "Opłata za przyłącze do sieci",
        "fr": "Redevance de réseau",
        "zh_Hans": "管网费",
    },
    "Waste collection, October 2026": {
        "sl": "Odvoz odpadkov, oktober 2026",
        "pl": "Odbiór odpadów, październik 2026",
        "fr": "Collecte des déchets, octobre 2026",
        "zh_Hans": "垃圾收集，2026年10月",
    },
    "Household waste, monthly": {
        "sl": "Gospodinjski odpadki, mesečno",
        "pl": "Odpady z gospodarstwa domowego, miesięcznie",
        "fr": "Déchets ménagers, mensuel",
        "zh_Hans": "生活垃圾（每月）",
    },
    "Vehicle registration fee": {
        "sl": "Pristojbina za registracijo vozila",
        "pl": "Opłata za rejestrację pojazdu",
        "fr": "Frais d’immatriculation d’un véhicule",
        "zh_Hans": "车辆登记费",
    },
    "Plates": {
        "sl": "Registrske tablice",
        "pl": "Tablice rejestracyjne",
        "fr": "Plaques d’immatriculation",
        "zh_Hans": "车牌",
    },
    "Business licence renewal 2027": {
        "sl": "Podaljšanje dovoljenja za opravljanje dejavnosti 2027",
        "pl": "Odnowienie zezwolenia na działalność gospodarczą na 2027 r.",
        "fr": "Renouvellement de la licence commerciale 2027",
        "zh_Hans": "2027年营业执照续期",
    },
    "Annual licence": {
        "sl": "Letno dovoljenje",
        "pl": "Zezwolenie roczne",
        "fr": "Licence annuelle",
        "zh_Hans": "年度执照",
    },
    "Commercial waste collection, October 2026": {
        "sl": "Odvoz odpadkov iz dejavnosti, oktober 2026",
        "pl": "Odbiór odpadów z działalności gospodarczej, październik 2026",
        "fr": "Collecte des déchets professionnels, octobre 2026",
        "zh_Hans": "商业垃圾收集，2026年10月",
    },
    "Commercial waste, monthly": {
        "sl": "Odpadki iz dejavnosti, mesečno",
        "pl": "Odpady z działalności gospodarczej, miesięcznie",
        "fr": "Déchets professionnels, mensuel",
        "zh_Hans": "商业垃圾（每月）",
    },
    "Waste collection, September 2026": {
        "sl": "Odvoz odpadkov, september 2026",
        "pl": "Odbiór odpadów, wrzesień 2026",
        "fr": "Collecte des déchets, septembre 2026",
        "zh_Hans": "垃圾收集，2026年9月",
    },
    "Water supply, May 2026": {
        "sl": "Oskrba s pitno vodo, maj 2026",
        "pl": "Dostawa wody, maj 2026",
        "fr": "Distribution d’eau, mai 2026",
        "zh_Hans": "供水，2026年5月",
    },
}


def translations(text: str) -> dict[str, str]:
    """The demo's ``text`` in the other languages (a copy, to keep in a row)."""
    return dict(TEXTS[text])
