"""A real HTTP server for browser tests: a committed database, sample data, a background thread."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.database import dispose as dispose_app
from registry import migrate
from registry.authorizations import AuthorizationInput, change_status, grant_authorization
from registry.bodies import BodyInput, create_body
from registry.db import make_engine
from registry.identifiers import uscc_check_character

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
ACTOR = "seed-operator"


def _credit_code(first17: str, *, valid: bool = True) -> str:
    check = uscc_check_character(first17)
    if not valid:
        check = "0" if check != "0" else "1"
    return first17 + check


def _body(session: Session, code: str, kind: str, name_zh: str, name_en: str, province: str | None,
          credit17: str, *, valid_code: bool = True, **extra: Any) -> str:
    create_body(
        session,
        BodyInput(code=code, kind=kind, name_zh=name_zh, name_en=name_en, province=province,
                  credit_code=_credit_code(credit17, valid=valid_code), **extra),
        actor=ACTOR, now=NOW,
    )
    return code


def _line(session: Session, code: str, category: str, *, jurisdiction: str = "CN", scheme: str = "CCC",
          standards: str = "", tests: str = "", since: dt.date = dt.date(2020, 3, 1),
          until: dt.date | None = dt.date(2030, 3, 1)) -> int:
    line = grant_authorization(
        session, code,
        AuthorizationInput(jurisdiction=jurisdiction, scheme=scheme, category=category, valid_from=since,
                           valid_until=until, standards=standards, tests=tests),
        actor=ACTOR, now=NOW, reason="designated by CNCA announcement 2020-05",
    )
    return line.id


def seed_registry(session: Session) -> None:
    """A small registry through the real services: several provinces, categories and statuses."""
    bj = _body(session, "CQC-BJ", "certification_body", "北京防护用品认证中心",
               "Beijing Protective Equipment Certification Centre", "11", "91110000MA0000001",
               address="北京市海淀区学院路 1 号", website="https://cert.example.cn",
               identifiers={"cnca": "CNCA-R-2002-001", "cnas": "CNAS C001-P"})
    _line(session, bj, "mask", standards="GB 2626-2019\nGB 19083-2010")
    _line(session, bj, "protective_clothing", standards="GB 19082-2009")
    _line(session, bj, "mask", jurisdiction="EU", scheme="Regulation (EU) 2016/425",
          standards="EN 149:2001+A1:2009")

    hd = _body(session, "HD-CERT", "certification_body", "海淀医疗器械认证有限公司",
               "Haidian Medical Device Certification Co.", "11", "91110108MA0000002", valid_code=False)
    suspended = _line(session, hd, "mask", standards="YY 0469-2011")
    change_status(session, suspended, "suspended",
                  reason="surveillance audit found nonconforming test records",
                  actor=ACTOR, now=NOW, effective=dt.date(2026, 5, 20))
    _line(session, hd, "ventilator", standards="GB 9706.212-2020")

    sh = _body(session, "SH-CERT", "certification_body", "上海质量认证中心",
               "Shanghai Quality Certification Centre", "31", "91310000MA0000003")
    _line(session, sh, "mask")
    _line(session, sh, "ir_thermometer", standards="GB/T 21417.1-2008")

    js = _body(session, "JS-CERT", "certification_body", "江苏认证服务中心",
               "Jiangsu Certification Services", "32", "91320000MA0000004")
    withdrawn = _line(session, js, "meltblown", standards="GB/T 30923-2014")
    change_status(session, withdrawn, "withdrawn", reason="the body asked to give up this scope",
                  actor=ACTOR, now=NOW, effective=dt.date(2026, 1, 10))

    gd = _body(session, "GD-LAB", "testing_lab", "广东医疗器械检测所",
               "Guangdong Medical Device Testing Institute", "44", "12440000MA0000005",
               identifiers={"cnas": "CNAS L0001", "cma": "201919000001"})
    _line(session, gd, "test_reagent", standards="YY/T 1182-2020",
          tests="nucleic acid amplification; antigen")
    _line(session, gd, "mask", standards="GB 2626-2019", tests="filtration efficiency; breathing resistance")

    tuv = _body(session, "NB-0123", "certification_body", "德国技术监督协会", "TÜV Example GmbH", None,
                "91110000MA0000006", country="DE", identifiers={"eu_nb": "0123"})
    _line(session, tuv, "mask", jurisdiction="EU", scheme="Regulation (EU) 2016/425", standards="EN 149")
    session.flush()


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request in the test output (errors are still logged by the app)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class LiveServer:
    url: str
    database_url: str


@contextmanager
def live_server(database_url: str, instance_dir: Path) -> Iterator[LiveServer]:
    """Migrate and fill ``database_url``, serve the app on a free local port, stop it afterwards."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with Session(engine) as session, session.begin():
        seed_registry(session)
    engine.dispose()
    app = create_app({
        "SECRET_KEY": "browser-test-only",
        "DATABASE_URL": database_url,
        "NOW": lambda: NOW,
        "RATELIMIT_ENABLED": False,
        "SCAN_LOG_BATCH": 1,  # rows written at once: none left for exit, when the database is gone
        "IMPORT_DIR": str(instance_dir / "imports"),
    })
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", database_url=database_url)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        dispose_app(app)
