"""The templates' remembered ``url_for`` (fedsim.links, installed in every
app by fedsim.web.configure_shared) gives exactly Flask's links, per script
root, and never remembers what depends on more than its arguments."""
from __future__ import annotations

import pytest
from flask import Flask, render_template_string, url_for

from fedsim import links
from fedsim.web import configure_shared

TEMPLATE = ("{{ url_for('start', codeDemarche=code) }}|{{ url_for('details', code=code) }}|"
            "{{ url_for('static', filename='monespace.css') }}|{{ url_for('start', _anchor='x', codeDemarche=code) }}")


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    links.install(app)

    @app.get("/demarrer/")
    def start() -> str:
        return ""

    @app.get("/demarches/<code>")
    def details(code: str) -> str:
        return code

    return app


def _flask(code: str) -> str:
    """The same template with Flask's own url_for."""
    return render_template_string(TEMPLATE.replace("url_for(", "flask_url_for("), code=code, flask_url_for=url_for)


@pytest.mark.parametrize("code", ["NAID", "A B/é&?", ""])
@pytest.mark.parametrize("root", ["", "/prefixe"])
def test_the_links_are_flasks_own(app: Flask, code: str, root: str) -> None:
    for _ in range(2):  # built, then remembered
        with app.test_request_context("/", base_url=f"http://localhost{root}/"):
            assert render_template_string(TEMPLATE, code=code) == _flask(code)
            assert _flask(code).startswith(f"{root}/demarrer/")


def test_each_script_root_has_its_own_links(app: Flask) -> None:
    with app.test_request_context("/"):
        assert render_template_string("{{ url_for('details', code='X') }}") == "/demarches/X"
    with app.test_request_context("/", base_url="http://localhost/ailleurs/"):
        assert render_template_string("{{ url_for('details', code='X') }}") == "/ailleurs/demarches/X"


def test_an_unknown_endpoint_still_fails(app: Flask) -> None:
    from werkzeug.routing import BuildError
    with app.test_request_context("/"), pytest.raises(BuildError):
        render_template_string("{{ url_for('nowhere') }}")


def test_links_with_options_or_objects_are_not_remembered(app: Flask) -> None:
    key = links.LINKS
    with app.test_request_context("/"):
        render_template_string("{{ url_for('start', _anchor='x') }}{{ url_for('start', n=[1]) }}"
                               "{{ url_for('start', _external=True) }}")
        assert app.extensions[key] == {}
        render_template_string("{{ url_for('start', page=2) }}")
        assert list(app.extensions[key].values()) == ["/demarrer/?page=2"]


def test_every_app_s_templates_get_it_with_the_shared_configuration() -> None:
    app = Flask(__name__)
    configure_shared(app, layout="fedsim/post_form.html")
    assert app.jinja_env.globals["url_for"] is links.link
    with app.test_request_context("/"):
        assert render_template_string("{{ url_for('static', filename='a.css') }}") == "/static/a.css"
        assert list(app.extensions[links.LINKS].values()) == ["/static/a.css"]
