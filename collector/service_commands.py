"""`collector tenant add` and `collector service add|update|list|show`.

They write to storage; a running `collector serve` picks the change up within
CONFIGURATION_RELOAD_SECONDS. Every value is validated before anything is written;
texts as the admin API does (collector/plain_text.py), a problem naming the option.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import TextIO

import msgspec

from collector import plain_text
from collector.errors import Unprocessable
from collector.local_days import is_time_zone
from collector.messages import SUPPORTED_LANGUAGES
from collector.plain_text import NAME_CHARACTERS
from collector.services import CONFIG_DECODER, Service, ServiceConfig
from collector.settings import Settings
from collector.storage import RecordRejected, Storage, open_storage

_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class CommandError(Exception):
    """A problem the person at the terminal can fix; printed without a traceback."""


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser("tenant", help="manage tenants (agencies)")
    tenant_actions = tenant.add_subparsers(dest="action", required=True)
    tenant_add = tenant_actions.add_parser("add", help="create a tenant, or rename it")
    tenant_add.add_argument("tenant_id", help="lower-case letters, digits and hyphens")
    tenant_add.add_argument("--name", required=True)
    tenant_add.add_argument(
        "--time-zone",
        help="IANA zone whose days analysts see, e.g. Asia/Yerevan (default: keep; new: UTC); "
        "a change rebuilds the tenant's rollups",
    )

    service = commands.add_parser("service", help="manage services")
    actions = service.add_subparsers(dest="action", required=True)
    for action in ("add", "update"):
        parser = actions.add_parser(action, help=f"{action} a service")
        parser.add_argument("slug", help="lower-case letters, digits and hyphens")
        parser.add_argument("--tenant", required=action == "add")
        parser.add_argument("--name", required=action == "add")
        parser.add_argument("--default-language", choices=SUPPORTED_LANGUAGES)
        parser.add_argument(
            "--config",
            help="JSON file with the widget configuration (names, languages, questions, "
            "question_texts, layout, theme), or - for standard input",
        )
    actions.add_parser("list", help="list services")
    show = actions.add_parser("show", help="print a service as JSON")
    show.add_argument("slug")


def run(arguments: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Run one tenant/service command; problems raise CommandError."""
    return asyncio.run(_run(arguments, settings, out))


async def _run(arguments: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    storage = open_storage(settings.effective_database_url)
    try:
        await storage.migrate()
        if arguments.command == "tenant":
            _check_identifier(arguments.tenant_id, "tenant id")
            name = _text(arguments.name, "--name", NAME_CHARACTERS)
            zone = arguments.time_zone and _text(arguments.time_zone, "--time-zone", 64)
            if zone and not is_time_zone(zone):
                raise CommandError(f"--time-zone: unknown time zone {zone!r}")
            await storage.save_tenant(arguments.tenant_id, name)
            if zone:
                await storage.set_tenant_time_zone(arguments.tenant_id, zone)
            print(f"tenant {arguments.tenant_id} saved", file=out)
        elif arguments.action in ("add", "update"):
            await _save_service(storage, arguments, out)
        elif arguments.action == "list":
            for service in await storage.list_services():
                questions = ",".join(service.config.questions) or "-"
                print(
                    f"{service.slug}\t{service.tenant_id}\t{service.config.layout}\t"
                    f"{questions}\t{service.name}",
                    file=out,
                )
        else:
            found = await _find(storage, arguments.slug)
            out.write(msgspec.json.format(msgspec.json.encode(found), indent=2).decode() + "\n")
    finally:
        await storage.close()
    return 0


async def find_service(storage: Storage, slug: str) -> Service | None:
    return next((s for s in await storage.list_services() if s.slug == slug), None)


async def _find(storage: Storage, slug: str) -> Service:
    found = await find_service(storage, slug)
    if found is None:
        raise CommandError(f"no service {slug!r}")
    return found


async def _save_service(storage: Storage, arguments: argparse.Namespace, out: TextIO) -> None:
    _check_identifier(arguments.slug, "service slug")
    existing = {service.slug: service for service in await storage.list_services()}
    if arguments.action == "add":
        if arguments.slug in existing:
            raise CommandError(f"service {arguments.slug!r} exists: use `service update`")
        _check_identifier(arguments.tenant, "tenant id")
        name = _text(arguments.name, "--name", NAME_CHARACTERS)
        service = Service(slug=arguments.slug, tenant_id=arguments.tenant, name=name)
    elif arguments.slug in existing:
        service = existing[arguments.slug]
        if arguments.tenant and arguments.tenant != service.tenant_id:
            raise CommandError("a service cannot move to another tenant")
    else:
        raise CommandError(f"no service {arguments.slug!r}: use `service add`")
    if arguments.name:
        service = replace_field(service, name=_text(arguments.name, "--name", NAME_CHARACTERS))
    if arguments.default_language:
        service = replace_field(service, default_language=arguments.default_language)
    if arguments.config:
        service = replace_field(service, config=_read_config(arguments.config))
    try:
        await storage.save_service(service)
    except RecordRejected as error:
        if "FOREIGN KEY" in str(error):
            raise CommandError(
                f"no tenant {service.tenant_id!r}: create it with `collector tenant add`"
            ) from None
        raise
    print(f"service {service.slug} saved", file=out)


def replace_field(service: Service, **changes: object) -> Service:
    return msgspec.structs.replace(service, **changes)


def _read_config(source: str) -> ServiceConfig:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {source}: {error.strerror}") from None
    try:
        return CONFIG_DECODER.decode(raw).cleaned(prefix=f"--config {source}: ")
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise CommandError(f"invalid configuration in {source}: {error}") from None
    except Unprocessable as error:
        raise CommandError(error.detail) from None


def _text(value: str, option: str, maximum: int) -> str:
    """An option's text checked and normalised as the admin API does."""
    try:
        return plain_text.clean(value, option, maximum=maximum)
    except Unprocessable as error:
        raise CommandError(error.detail) from None


def _check_identifier(value: str, what: str) -> None:
    if not _IDENTIFIER.fullmatch(value):
        raise CommandError(f"{what} {value!r}: use 1 to 63 lower-case letters, digits and hyphens")
