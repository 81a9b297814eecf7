"""Importing a package file at the centre (the USB-stick path; ``exam-sync pull`` uses it)."""

from __future__ import annotations

from pathlib import Path

import click

from exam_server.config import Config
from exam_server.db import Database
from exam_server.packages.service import ImportReport, import_package
from question_bank.package import PackageError, load_public_key, open_package
from question_bank.package_parts import PartsError


def import_file(cfg: Config, db: Database, path: Path, *, by: str) -> ImportReport:
    """Verify the package completely, then import it in one transaction."""
    from exam_server.clock import SystemClock
    from exam_server.sittings.service import ServiceError

    if not cfg.CENTRE_CODE or not cfg.CENTRAL_PUBLIC_KEY:
        setup = cfg.fix(
            "exam-sync setup --centre 考点代码 --central-url 省中心地址 --central-key central.pub"
        )
        raise click.ClickException(
            f"本考点尚未设置考点代码和省中心公钥（{cfg.where()}）：请先运行 `{setup}` "
            "/ the centre code and central's public key are not set"
        )
    try:
        key = load_public_key(Path(cfg.CENTRAL_PUBLIC_KEY).read_bytes())
        opened = open_package(Path(path).read_bytes(), key, cfg.CENTRE_CODE)
        with db.write() as session:
            return import_package(session, SystemClock().now(), opened, by=by, central_key=key)
    except (PackageError, PartsError, ServiceError, OSError, ValueError) as exc:
        raise click.ClickException(
            f"考试包未导入，未写入任何数据 / package not imported, nothing written: {exc}"
        ) from exc
