"""HTML pages of the development IdP; every value is escaped and no script is inline."""

from html import escape

from portal.devidp.idp import (
    LEVELS_OF_ASSURANCE,
    LOA_HIGH,
    LOA_LOW,
    LOA_SUBSTANTIAL,
    IssuedSession,
    ReceivedMessage,
)
from portal.devidp.personas import PERSONAS, PERSONAS_BY_ID

RESPOND_PATH = "/sso/respond"
SCRIPT_PATH = "/static/autosubmit.js"
STYLE_PATH = "/static/devidp.css"

LOA_LABELS = {LOA_LOW: "Low", LOA_SUBSTANTIAL: "Substantial", LOA_HIGH: "High"}


def page(title: str, body: str, script: bool = False) -> str:
    script_tag = f'<script src="{SCRIPT_PATH}" defer></script>' if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} – Portal development IdP</title>\n"
        f'<link rel="stylesheet" href="{STYLE_PATH}">\n{script_tag}\n</head>\n<body>\n'
        f'<main>\n<p class="banner">Development identity provider – not for real use</p>\n'
        f"<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )


def hidden(name: str, value: str | None) -> str:
    if value is None:
        return ""
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">\n'


def persona_picker(
    message: ReceivedMessage,
    sp_entity_id: str,
    error: str | None = None,
    chosen_persona: str | None = None,
    chosen_loa: str = LOA_SUBSTANTIAL,
) -> str:
    """Ask who to sign in as; the original request travels along so it is verified again."""
    error_html = (
        f'<div class="error" role="alert"><p id="picker-error">{escape(error)}</p></div>\n'
        if error
        else ""
    )
    described_by = ' aria-describedby="picker-error"' if error else ""
    personas = "".join(
        '<div class="choice">'
        f'<input type="radio" name="persona" id="persona-{escape(p.id)}" value="{escape(p.id)}"'
        f"{' checked' if p.id == chosen_persona else ''} required>"
        f' <label for="persona-{escape(p.id)}">{escape(p.display_name)}'
        f' <span class="hint">{escape(persona_summary(p.id))}</span></label></div>\n'
        for p in PERSONAS
    )
    levels = "".join(
        '<div class="choice">'
        f'<input type="radio" name="loa" id="loa-{escape(LOA_LABELS[loa].lower())}"'
        f' value="{escape(loa)}"{" checked" if loa == chosen_loa else ""}>'
        f' <label for="loa-{escape(LOA_LABELS[loa].lower())}">{escape(LOA_LABELS[loa])}'
        f' <span class="hint">{escape(loa)}</span></label></div>\n'
        for loa in LEVELS_OF_ASSURANCE
    )
    fields = (
        hidden("SAMLRequest", message.saml_message)
        + hidden("RelayState", message.relay_state)
        + hidden("SigAlg", message.sig_alg)
        + hidden("Signature", message.signature)
        + hidden("binding", message.binding)
    )
    body = (
        f"{error_html}<p>The service <strong>{escape(sp_entity_id)}</strong> asks you to sign in."
        " Choose a demo person instead of entering a password.</p>\n"
        f'<form method="post" action="{RESPOND_PATH}">\n{fields}'
        f"<fieldset{described_by}>\n<legend>Sign in as</legend>\n{personas}</fieldset>\n"
        f"<fieldset>\n<legend>Level of assurance</legend>\n{levels}</fieldset>\n"
        '<button type="submit">Sign in</button>\n</form>'
    )
    return page("Choose a demo person", body)


def persona_summary(persona_id: str) -> str:
    persona = PERSONAS_BY_ID[persona_id]
    details = [persona.role, persona.id]
    if persona.org_name:
        details.append(persona.org_name)
    details.extend(persona.groups)
    return "(" + ", ".join(details) + ")"


def post_to_sp(acs_url: str, saml_response: str, relay_state: str | None) -> str:
    """Carry the signed Response to the SP; the button makes it work with JavaScript off."""
    body = (
        f'<form method="post" action="{escape(acs_url)}" data-auto-submit>\n'
        + hidden("SAMLResponse", saml_response)
        + hidden("RelayState", relay_state)
        + "<p>You are signed in. Continue to the service.</p>\n"
        + '<button type="submit">Continue</button>\n</form>'
    )
    return page("Signed in", body, script=True)


def home(sessions: list[IssuedSession]) -> str:
    if sessions:
        items = "".join(
            f"<li>{escape(PERSONAS_BY_ID[s.persona_id].display_name)} at {escape(s.sp_entity_id)}"
            f' – <a href="/logout/{escape(s.persona_id)}">sign out</a></li>\n'
            for s in sessions
        )
        listing = f"<ul>\n{items}</ul>"
    else:
        listing = "<p>Nobody is signed in.</p>"
    body = (
        "<p>Sign in from the portal; this IdP then asks which demo person you are.</p>\n"
        f'<h2>Sessions</h2>\n{listing}\n<p><a href="/metadata">IdP metadata</a></p>'
    )
    return page("Portal development IdP", body)


def message_page(title: str, text: str) -> str:
    return page(title, f"<p>{escape(text)}</p>")
