"""The shared page components render the USWDS markup the pages and the server rely on."""

from bs4 import BeautifulSoup
from pyramid.scripting import prepare
from pyramid_jinja2 import IJinja2Environment


def render(wsgi_app, call: str) -> BeautifulSoup:
    environment = wsgi_app.registry.queryUtility(IJinja2Environment, name=".jinja2")
    source = '{% import "_components.jinja2" as ui %}' + call
    # the macros' gettext reads the current request's localizer
    with prepare(registry=wsgi_app.registry):
        return BeautifulSoup(environment.from_string(source).render(), "html.parser")


def test_memorable_date_is_three_labelled_numeric_fields_in_a_fieldset(wsgi_app):
    html = render(
        wsgi_app,
        '{{ ui.memorable_date("born", "Date of birth", {"day": "7", "year": "1980"},'
        ' hint="For example, 27 3 2007") }}',
    )
    fieldset = html.find("fieldset")
    assert fieldset.find("legend").get_text(strip=True) == "Date of birth"
    assert fieldset["aria-describedby"] == "born-hint"
    fields = fieldset.find_all("input")
    assert [field["name"] for field in fields] == ["born-day", "born-month", "born-year"]
    assert [field.get("value") for field in fields] == ["7", "", "1980"]
    assert {field["inputmode"] for field in fields} == {"numeric"}
    for field in fields:
        assert html.find("label", attrs={"for": field["id"]}).get_text(strip=True) in {
            "Day",
            "Month",
            "Year",
        }
    assert not html.find(class_="usa-error-message")


def test_memorable_date_in_error_names_the_error_and_marks_the_fields(wsgi_app):
    html = render(
        wsgi_app, '{{ ui.memorable_date("born", "Date of birth", error="Enter a real date") }}'
    )
    assert "usa-form-group--error" in html.find("div")["class"]
    assert html.find("fieldset")["aria-describedby"] == "born-error"
    assert html.find(id="born-error").get_text(strip=True) == "Enter a real date"
    assert all("usa-input--error" in field["class"] for field in html.find_all("input"))


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
