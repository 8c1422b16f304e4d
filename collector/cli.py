"""The `collector` command: serve, flush, tenant, service, key, snippet, token,
dashboard-link, purge, erase, dead-letters."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from collector import (
    __version__,
    dead_letter_commands,
    key_commands,
    privacy_commands,
    service_commands,
)
from collector.auth import PLATFORM_TENANT, ROLES, AnalystTokens
from collector.cli_options import whole_number
from collector.data_directory import PRIVATE_UMASK
from collector.services import LAYOUTS, Service
from collector.settings import Settings, SettingsError, shown_url
from collector.snippet import iframe_snippet, token_note
from collector.storage import open_storage


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collector",
        description="civic-feedback collector. Configuration comes from the environment "
        "(see README.md).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the collector (embedded Redis by default)")
    serve.add_argument("--host", help="overrides COLLECTOR_HOST")
    serve.add_argument(
        "--port", type=whole_number(1, 65535), metavar="PORT", help="overrides COLLECTOR_PORT"
    )
    serve.add_argument(
        "--workers",
        type=whole_number(1, 64),
        default=1,
        metavar="N",
        help="serving processes on one socket (default 1; the first also flushes)",
    )

    flush = commands.add_parser("flush", help="run a standalone flusher (stream -> storage)")
    flush.add_argument(
        "--concurrency",
        type=whole_number(1, 32),
        default=1,
        metavar="N",
        help="consumers in this process, each with its own batches (default 1); "
        "worth it with PostgreSQL, which stores batches side by side",
    )

    snippet = commands.add_parser("snippet", help="print the iframe snippet of a service")
    snippet.add_argument("service", help="the service's slug, e.g. demo-passport")
    snippet.add_argument("--layout", choices=LAYOUTS, help="default: the service's own")

    service_commands.add_parsers(commands)
    key_commands.add_parsers(commands)
    privacy_commands.add_parsers(commands)
    dead_letter_commands.add_parsers(commands)

    token = commands.add_parser("token", help="print an analyst token for a tenant")
    token.add_argument("--tenant", default="demo", help="tenant id (default: demo)")
    token.add_argument(
        "--role",
        choices=ROLES,
        default="analyst",
        help="analyst reads figures; admin also manages services and keys; platform "
        "manages every tenant (its tenant is '*')",
    )
    token.add_argument(
        "--days",
        type=whole_number(1, 366),
        default=30,
        metavar="N",
        help="validity in days (default: 30, at most 366)",
    )

    link = commands.add_parser(
        "dashboard-link", help="print a short-lived link that signs in to the dashboard"
    )
    link.add_argument("--tenant", default="demo", help="tenant id (default: demo)")
    link.add_argument(
        "--role",
        choices=("analyst", "admin"),
        default="analyst",
        help="the role of the session the link opens (default: analyst)",
    )
    link.add_argument(
        "--minutes",
        type=whole_number(1, 1440),
        default=15,
        metavar="N",
        help="the link works once, within N minutes (default: 15, at most 1440)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    # Whatever a command creates (a SQLite database, the secret, a data directory) is
    # for the collector's user only (collector/data_directory.py).
    os.umask(PRIVATE_UMASK)
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        print(f"collector: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if arguments.command in ("serve", "flush"):
            # Imported here so that the other commands do not load the server stack.
            from collector import runner
        if arguments.command == "serve":
            if arguments.host:
                settings = replace(settings, host=arguments.host)
            if arguments.port is not None:
                settings = replace(settings, port=arguments.port)
            runner.serve(settings, sys.stdout, arguments.workers)
        elif arguments.command == "flush":
            runner.flush(settings, arguments.concurrency)
        elif arguments.command in ("tenant", "service"):
            return service_commands.run(arguments, settings, sys.stdout)
        elif arguments.command == "key":
            return key_commands.run(arguments, settings, sys.stdout)
        elif arguments.command in ("purge", "erase"):
            return privacy_commands.run(arguments, settings, sys.stdout)
        elif arguments.command == "dead-letters":
            return dead_letter_commands.run(arguments, settings, sys.stdout)
        elif arguments.command == "snippet":
            return _print_snippet(settings, arguments.service, arguments.layout)
        elif arguments.command == "token":
            tokens = AnalystTokens(settings.with_secret().secret)
            lifetime = arguments.days * 86400  # --days is 1 to 366
            tenant = PLATFORM_TENANT if arguments.role == "platform" else arguments.tenant
            print(tokens.issue(tenant, role=arguments.role, lifetime_seconds=lifetime))
        elif arguments.command == "dashboard-link":
            # Imported here: the dashboard brings Litestar, which other commands skip.
            from collector.dashboard.session import sign_in_link

            settings = settings.with_secret()
            tokens = AnalystTokens(settings.secret)
            print(
                sign_in_link(
                    settings.effective_public_url,
                    tokens,
                    arguments.tenant,
                    arguments.role,
                    arguments.minutes,
                )
            )
    except (RuntimeError, SettingsError, service_commands.CommandError) as error:
        # Start-up and command problems, said plainly; also the supervisor's giving up
        # (SupervisionGaveUp is a RuntimeError), which it logged in full already.
        print(f"collector: {error}", file=sys.stderr)
        return 2
    return 0


def _print_snippet(settings: Settings, slug: str, layout: str | None) -> int:
    async def find() -> Service | None:
        storage = open_storage(settings.effective_database_url)
        try:
            await storage.migrate()
            return await service_commands.find_service(storage, slug)
        finally:
            await storage.close()

    service = asyncio.run(find())
    if service is None:
        print(
            f"collector: no service {slug!r} in {shown_url(settings.effective_database_url)}",
            file=sys.stderr,
        )
        return 1
    note = token_note(service)
    if note:
        print(note)
    print(iframe_snippet(settings.effective_public_url, service, layout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
