"""The Flask layer: app factory, blueprints for public pages, admin, auth, the JSON API and the log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, current_app
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

import config
from app import access, database, errors, i18n, scanlog, templating


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, overridden by ``test_config`` in tests."""
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR), instance_relative_config=False)
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        raise config.ConfigError(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set; scripts/serve.sh generates one per install"
        )
    app.config["LOG_ORIGIN"] = config.log_origin(app.config)  # resolved and checked once, here
    app.json = RegistryJSONProvider(app)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    database.init_app(app)
    scanlog.init_app(
        app,
        app.extensions["db_session_factory"],
        batch=int(app.config["SCAN_LOG_BATCH"]),
        interval=float(app.config["SCAN_LOG_FLUSH_SECONDS"]),
    )
    CSRFProtect(app)
    _init_login(app)
    i18n.init_app(app)
    templating.init_app(app)
    errors.init_app(app)

    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.log import bp as log_bp
    from app.public import bp as public_bp

    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        enabled=app.config["RATELIMIT_ENABLED"],
        headers_enabled=True,
    )
    app.extensions["rate_limiter"] = limiter
    limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])(public_bp)
    limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])(api_bp)
    limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])(log_bp)
    limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])(auth_bp)

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(log_bp, url_prefix="/log")  # the transparency log (C2SP checkpoints)
    from app.certificates import register as register_certificates

    register_certificates(app, limiter)  # verification pages (rate-limited) and certificate pages
    from app.customs import bp as customs_bp

    app.register_blueprint(customs_bp, url_prefix="/customs")  # customs checks: officers and admins
    from app.complaints import register as register_complaints

    register_complaints(app, limiter)  # the public report form (strictly rate-limited) and the ledger
    from app.alerts import register as register_alerts

    register_alerts(app)  # misuse alert rules after each scan log write, and the alert pages
    access.init_app(app)

    from app.cli import register as register_cli

    register_cli(app)
    return app


class RegistryJSONProvider(DefaultJSONProvider):
    """Dates and times as ISO 8601 (Flask's default writes HTTP dates, meant for headers)."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, dt.date):  # datetime is a date too
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def _init_login(app: Flask) -> None:
    from flask_login import LoginManager

    from registry.models import User

    manager = LoginManager(app)
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(user_id: str) -> Any:
        user = database.get_session().get(User, int(user_id))
        if user is None or not user.is_active:
            return None
        return LoginUser(user)


class LoginUser:
    """Flask-Login adapter around a registry User (the model stays framework-free)."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.id = user.id
        self.username = user.username
        self.role = user.role
        self.body_id = user.body_id

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)
