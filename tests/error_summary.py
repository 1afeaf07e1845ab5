"""What every refused form shows (templates/_components.jinja2): one error summary before the
form, an alert that takes the focus, "There is a problem", then each error as a link to its
field; and each field in error shows its own message (not announced again: no role), which
the field names in its aria-describedby."""

from __future__ import annotations

FIELDS = ["input", "select", "textarea"]


def assert_error_summary(page, fields: list[str]) -> None:
    """The page's error summary links to exactly ``fields`` (named as the form sends them, or
    by their ids where two forms of the page send the same name; a date's link goes to its
    day box, a group's to its first box), each showing its error."""
    html = page.html
    main = html.find("main")
    summary = main.find(id="form-errors")
    assert summary is not None, page.text
    assert summary["role"] == "alert" and summary["tabindex"] == "-1"
    assert summary.has_attr("autofocus")
    assert summary.find("h2").get_text(strip=True) == "There is a problem"
    assert [form for form in summary.find_all_previous("form") if main in form.parents] == []
    links = summary.find_all("a")
    assert len(links) == len(fields)
    for name, link in zip(fields, links, strict=True):
        field = html.find(id=link["href"].removeprefix("#"))
        assert field is not None and field.name in FIELDS, link
        sent_as = field.get("name", "")
        assert name in (sent_as, sent_as.removesuffix("-day"), field.get("id")), field
        message = html.find(id=f"{name}-error")
        assert message is not None and message.get_text(strip=True), name
        # the summary is the one region announced; a field's own message is read with it
        assert not message.has_attr("role"), message
        assert f"{name}-error" in field.get("aria-describedby", "").split(), field
