"""Seed the local platform so a newcomer can log in and watch the simulated fleet move.

Creates, through the identity service (idempotently, so every ``make up`` may run it):

* the platform account (``admin@trackstream.local``), with ``python -m identity bootstrap-admin``;
* a demo enterprise account (``demo@trackstream.local``) under it;
* the demo fleet's devices (the simulator's deterministic identities) owned by the demo account,
  so ingest resolves them from identity's registry like any real device.

Passwords are generated on the first run and kept in ``.run/seed/credentials.json`` (mode 0600);
``make up`` prints them. Local development only.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import grpc

from trackstream.identity.v1 import accounts_pb2, identity_service_pb2, identity_service_pb2_grpc
from trackstream_simulator.codec import GT06_TIMEZONE_NAME, JT808_TIMEZONE_NAME
from trackstream_simulator.fleet import FleetConfig, fleet_identities

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ADMIN_EMAIL = "admin@trackstream.local"
DEMO_EMAIL = "demo@trackstream.local"
MODELS = {"gt06": "GT06N", "jt808": "JC450"}
TIMEZONES = {"gt06": GT06_TIMEZONE_NAME, "jt808": JT808_TIMEZONE_NAME}


def _run_dir() -> Path:
    return Path(os.environ.get("TS_RUN_DIR", ROOT / ".run"))


def credentials(path: Path) -> dict[str, str]:
    """The local accounts' passwords: read, or generated once (0600)."""
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    created = {
        "admin_email": ADMIN_EMAIL,
        "admin_password": secrets.token_urlsafe(12),
        "demo_email": DEMO_EMAIL,
        "demo_password": secrets.token_urlsafe(12),
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(created, indent=2) + "\n")
    return created


def _account_id(
    stub: identity_service_pb2_grpc.IdentityServiceStub, email: str, password: str
) -> str:
    pair = stub.IssueToken(identity_service_pb2.IssueTokenRequest(email=email, password=password))
    return str(pair.account_id)


def seed(grpc_target: str, fleet_size: int) -> str:
    creds = credentials(_run_dir() / "seed" / "credentials.json")
    password_file = _run_dir() / "seed" / "admin-password"
    password_file.touch(mode=0o600)
    password_file.write_text(creds["admin_password"])
    key_file = _run_dir() / "identity" / "signing-key.pem"
    subprocess.run(
        [sys.executable, "-m", "identity", "bootstrap-admin", "--email", creds["admin_email"],
         "--password-file", str(password_file)],
        check=True,
        # the key identity serves with (stack.py puts it in .run/identity)
        env={"IDENTITY_SIGNING_KEY_FILE": str(key_file), **os.environ},
    )  # fmt: skip
    with grpc.insecure_channel(grpc_target) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        admin_id = _account_id(stub, creds["admin_email"], creds["admin_password"])
        try:
            stub.CreateAccount(
                identity_service_pb2.CreateAccountRequest(
                    parent_account_id=admin_id,
                    kind=accounts_pb2.ACCOUNT_KIND_ENTERPRISE,
                    role=accounts_pb2.ACCOUNT_ROLE_ADMIN,
                    email=creds["demo_email"],
                    display_name="Demo Fleet",
                    password=creds["demo_password"],
                )
            )
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        demo_id = _account_id(stub, creds["demo_email"], creds["demo_password"])
        created = 0
        for identity in fleet_identities(FleetConfig(gt06=fleet_size, jt808=fleet_size)):
            try:
                stub.RegisterDevice(
                    identity_service_pb2.RegisterDeviceRequest(
                        owner_account_id=demo_id,
                        identifier=identity.identifier,
                        protocol=identity.protocol,
                        model=MODELS[identity.protocol],
                        name=f"Demo {MODELS[identity.protocol]} #{identity.index + 1}",
                        device_timezone=TIMEZONES[identity.protocol],
                    )
                )
                created += 1
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
    total = 2 * fleet_size
    return f"seed: accounts {ADMIN_EMAIL}, {DEMO_EMAIL}; demo devices {total} ({created} new)"


def login_line() -> str:
    c = credentials(_run_dir() / "seed" / "credentials.json")
    return (
        f"  log in:    {c['demo_email']} / {c['demo_password']} (demo fleet)   "
        f"{c['admin_email']} / {c['admin_password']} (platform)"
    )


def main() -> int:
    if sys.argv[1:] == ["--print-login"]:
        print(login_line())
        return 0
    target = f"127.0.0.1:{os.environ.get('IDENTITY_GRPC_PORT', '50071')}"
    try:
        print(seed(target, int(os.environ.get("TS_FLEET_SIZE", "5"))))
    except grpc.RpcError as error:
        print(f"error: seeding through identity at {target} failed: {error.code().name}: "
              f"{error.details()} (see .run/identity/out.log)", file=sys.stderr)  # fmt: skip
        return 1
    except subprocess.CalledProcessError:
        print("error: `python -m identity bootstrap-admin` failed (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
