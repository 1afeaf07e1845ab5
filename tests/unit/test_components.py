"""The shared page components render the USWDS markup the pages rely on."""

from bs4 import BeautifulSoup
from pyramid.scripting import prepare
from pyramid_jinja2 import IJinja2Environment


def render(wsgi_app, call: str) -> BeautifulSoup:
    environment = wsgi_app.registry.queryUtility(IJinja2Environment, name=".jinja2")
    source = '{% import "_components.jinja2" as ui %}' + call
    # the macros' gettext reads the current request's localizer
    with prepare(registry=wsgi_app.registry):
        return BeautifulSoup(environment.from_string(source).render(), "html.parser")


def test_step_indicator_marks_steps_done_current_and_to_come(wsgi_app):
    html = render(wsgi_app, '{{ ui.step_indicator(["Review", "Pay", "Result"], 2) }}')
    segments = html.find_all("li")
    assert "usa-step-indicator__segment--complete" in segments[0]["class"]
    assert segments[1]["aria-current"] == "step"
    assert segments[2]["class"] == ["usa-step-indicator__segment"]
    assert html.find(class_="usa-step-indicator__heading-text").get_text() == "Pay"
    done = render(wsgi_app, '{{ ui.step_indicator(["Review", "Pay", "Result"], 1, done=True) }}')
    assert len(done.find_all(class_="usa-step-indicator__segment--complete")) == 3


def test_summary_list_pairs_names_with_values(wsgi_app):
    html = render(wsgi_app, '{{ ui.summary_list([("Amount", "€12.50"), ("Status", "<b>")]) }}')
    rows = [(row.dt.get_text(), row.dd.get_text()) for row in html.find_all("div")]
    assert rows == [("Amount", "€12.50"), ("Status", "<b>")]  # values escaped, not markup
