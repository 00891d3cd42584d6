"""CPU of the sign-in use case alone, without HTTP and with a cheap hash, on PostgreSQL +
Redis: where the non-hash work of a sign-in goes. Prints CPU ms per sign-in and a profile.

    .venv/bin/python scripts/profile_signin.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import secrets
import time

import sqlalchemy as sa

from accessguard.bootstrap import build_services
from accessguard.domain.model import ClientInfo
from accessguard.settings import Settings
from accessguard.storage.sql.migrate import upgrade

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse trading desk 42"  # noqa: S105 - the seeded accounts' password
ACCOUNTS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    name = f"accessguard_profile_{secrets.token_hex(4)}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
            redis_url="redis://127.0.0.1:6379/0",
            redis_key_prefix=f"accessguard-profile:{name}:",
            secret_keys=[secrets.token_urlsafe(48)],
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            address_failure_limit=10**9,
            address_request_limit=10**9,
        )
        services = build_services(settings)
        upgrade(services.engine)
        client = ClientInfo("10.0.0.1", "profile")
        for i in range(ACCOUNTS):
            services.accounts.register(f"u{i}@example.com", PASSWORD, client, verified=True)
        while services.dispatcher.run_once(limit=500).sent:  # the registrations' follow-ups
            pass

        def sign_ins(count: int) -> None:
            for i in range(count):
                services.signin(f"u{i % ACCOUNTS}@example.com", PASSWORD, None, client)

        sign_ins(ACCOUNTS)  # warm caches and pools
        started = time.process_time()
        sign_ins(rounds)
        per_sign_in_ms = (time.process_time() - started) / rounds * 1000
        print(f"CPU per sign-in, cheap hash included: {per_sign_in_ms:.2f} ms")
        profile = cProfile.Profile()
        profile.enable()
        sign_ins(rounds)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats("accessguard", 25)
        services.close()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
